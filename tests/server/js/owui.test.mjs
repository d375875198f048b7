// Open WebUI's request shapes (../shared/docs/api-contract.md, sections 1 and 7) replayed with fetch
// against `vkai serve`, and read the way Open WebUI reads them. Usage: node owui.test.mjs path/to/vkai
import { assert, postJson, readSse, run, startServer, test } from './lib.mjs';

const server = await startServer(['--parallel', '2']);
const V1 = server.base + '/v1';
// Open WebUI with an empty key sends the literal header "Bearer "; the forwarded-user headers are ignored.
const OWUI_HEADERS = {
  Authorization: 'Bearer ',
  'X-OpenWebUI-User-Name': 'Test User', 'X-OpenWebUI-User-Id': 'u-1',
  'X-OpenWebUI-User-Email': 'test@example.com', 'X-OpenWebUI-User-Role': 'admin',
};
let model = '';

// Open WebUI's default title template (backend/open_webui/config.py), with the chat history filled in.
const TITLE_PROMPT = `### Task:
Generate a concise, 3-5 word title with an emoji summarizing the chat history.
### Guidelines:
- The title should clearly represent the main theme or subject of the conversation.
- Use emojis that enhance understanding of the topic, but avoid quotation marks or special formatting.
- Write the title in the chat's primary language; default to English if multilingual.
- Prioritize accuracy over excessive creativity; keep it clear and simple.
### Output:
JSON format: { "title": "your concise title here" }
### Examples:
- { "title": "📉 Stock Market Trends" },
- { "title": "🍪 Perfect Chocolate Chip Recipe" },
- { "title": "Evolution of Music Streaming" },
- { "title": "Remote Work Productivity Tips" },
- { "title": "Artificial Intelligence in Healthcare" },
- { "title": "🎮 Video Game Development Insights" }
### Chat History:
<chat_history>
USER: Tell me a story about a cat
ASSISTANT: Once upon a time there was a cat named Tom.
</chat_history>`;

// What middleware.py does with a stream: requires text/event-stream, skips non-data lines, json.loads
// each payload, merges usage and timings (dict.update(None) would raise: timings must never be null).
async function owuiStream(body) {
  const res = await postJson(V1 + '/chat/completions', body, OWUI_HEADERS);
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') || '', /text\/event-stream/);
  const payloads = await readSse(res);
  assert.equal(payloads[payloads.length - 1], '[DONE]', 'the stream must end with data: [DONE]');
  let content = '';
  let usage = null;
  let finish = null;
  for (const p of payloads.slice(0, -1)) {
    const data = JSON.parse(p);
    assert.ok(!('timings' in data) || (data.timings !== null && typeof data.timings === 'object'), 'timings: null breaks Open WebUI');
    assert.ok(!('selected_model_id' in data) && !('event' in data), 'Open WebUI pipeline keys must not be emitted');
    const merged = { ...(data.usage || {}), ...(data.timings || {}) };
    if (Object.keys(merged).length && data.usage) usage = merged;
    if (!data.choices || data.choices.length === 0) continue;
    const delta = data.choices[0].delta;
    assert.ok(delta && typeof delta === 'object', 'chunk without delta');
    if (typeof delta.content === 'string') content += delta.content;
    if (data.choices[0].finish_reason) finish = data.choices[0].finish_reason;
  }
  return { content, usage, finish };
}

test('GET /v1/models with "Bearer " answers {data:[{id}]}', async () => {
  const res = await fetch(V1 + '/models', { headers: OWUI_HEADERS });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.ok(Array.isArray(body.data) && body.data.length >= 1);
  for (const m of body.data) assert.equal(typeof (m.id ?? m.name), 'string');
  assert.ok(!body.data.some((m) => m.name === null), '"name": null');
  model = body.data[0].id;
});

test('streamed user chat with stream_options.include_usage (Open WebUI payload)', async () => {
  const r = await owuiStream({
    stream: true, model,
    messages: [{ role: 'system', content: 'You are a storyteller.' }, { role: 'user', content: 'Tell me a story about a cat' }],
    stream_options: { include_usage: true },
    temperature: 0.8, top_p: 0.9, max_tokens: 24, seed: 7,
    user: { name: 'Test User', id: 'u-1', email: 'test@example.com', role: 'admin' }, // pipelines send an object
  });
  assert.ok(r.content.length > 0, 'empty reply');
  assert.ok(['stop', 'length'].includes(r.finish), 'finish_reason ' + r.finish);
  assert.ok(r.usage && r.usage.completion_tokens >= 1 && r.usage.prompt_tokens >= 1, 'usage ' + JSON.stringify(r.usage));
});

// tasks.py sends max_completion_tokens = the model's max_tokens param, else 1000; 24 keeps the test short.
test('title task: non-stream, max_completion_tokens, emoji in the prompt; max_completion_tokens wins over max_tokens', async () => {
  const res = await postJson(V1 + '/chat/completions', {
    model, messages: [{ role: 'user', content: TITLE_PROMPT }], stream: false, max_completion_tokens: 24,
  }, OWUI_HEADERS);
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') || '', /application\/json/);
  const body = await res.json();
  assert.equal(typeof body.choices[0].message.content, 'string');
  assert.ok(body.usage.completion_tokens >= 1);
  const small = await (await postJson(V1 + '/chat/completions', {
    model, messages: [{ role: 'user', content: TITLE_PROMPT }], stream: false,
    max_completion_tokens: 3, max_tokens: 50, temperature: 1.0, seed: 1, ignore_eos: true,
  }, OWUI_HEADERS)).json();
  assert.ok(small.usage.completion_tokens <= 3, 'max_completion_tokens ignored: ' + JSON.stringify(small.usage));
});

test('parallel: a streamed chat with title and tags tasks at the same time', async () => {
  const chat = owuiStream({
    stream: true, model, messages: [{ role: 'user', content: 'Tell me a story about a dog' }],
    stream_options: { include_usage: true }, max_tokens: 32, seed: 11,
  });
  const task = (content, extra) => postJson(V1 + '/chat/completions',
    { model, messages: [{ role: 'user', content }], stream: false, ...extra }, OWUI_HEADERS)
    .then(async (res) => { assert.equal(res.status, 200, await res.clone().text()); return res.json(); });
  const [c, title, tags, q] = await Promise.all([
    chat,
    task(TITLE_PROMPT, { max_completion_tokens: 16 }),
    task('### Task:\nGenerate 1-3 broad tags. JSON format: { "tags": ["tag1"] }\n<chat_history>\nUSER: dogs\n</chat_history>', { max_tokens: 16 }),
    task('### Task:\nGenerate search queries. JSON format: { "queries": ["q"] }', { max_tokens: 16 }),
  ]);
  assert.ok(c.content.length > 0);
  for (const r of [title, tags, q]) assert.equal(r.object, 'chat.completion');
});

test('assistant history and a tool result message are accepted', async () => {
  const res = await postJson(V1 + '/chat/completions', {
    model, stream: false, max_tokens: 4,
    messages: [
      { role: 'user', content: 'What is the weather?' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      { role: 'user', content: 'Thanks' },
    ],
  }, OWUI_HEADERS);
  assert.equal(res.status, 200, await res.clone().text());
});

test('errors: unknown model gives 404 and {"error":{"message"}} (Open WebUI shows error.message)', async () => {
  const res = await postJson(V1 + '/chat/completions',
    { model: 'missing-model', messages: [{ role: 'user', content: 'hi' }], stream: true }, OWUI_HEADERS);
  assert.equal(res.status, 404);
  assert.match(res.headers.get('content-type') || '', /application\/json/);
  const body = await res.json();
  assert.equal(typeof body.error.message, 'string');
  const bad = await postJson(V1 + '/chat/completions', '{"model": "x", "messages": [', OWUI_HEADERS);
  assert.equal(bad.status, 400);
  assert.equal(typeof (await bad.json()).error.message, 'string');
});

test('Ollama connection: /api/tags, streamed /api/chat (NDJSON), /api/generate', async () => {
  const tags = await (await fetch(server.base + '/api/tags')).json();
  assert.ok(Array.isArray(tags.models) && tags.models.length >= 1, JSON.stringify(tags));
  const name = tags.models[0].name;
  assert.equal(typeof name, 'string');
  const res = await postJson(server.base + '/api/chat', {
    model: name, messages: [{ role: 'user', content: 'Once upon a time' }], options: { num_predict: 8, seed: 1 },
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') || '', /application\/x-ndjson/);
  const lines = (await res.text()).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  const last = lines[lines.length - 1];
  assert.equal(last.done, true);
  assert.ok(last.eval_count >= 1 && last.eval_count <= 8, 'eval_count ' + last.eval_count);
  assert.ok(lines.slice(0, -1).every((l) => l.done === false && l.message.role === 'assistant'));
  const gen = await (await postJson(server.base + '/api/generate', {
    model: name, prompt: 'Once upon a time', stream: false, options: { num_predict: 4 },
  })).json();
  assert.equal(gen.done, true);
  assert.equal(typeof gen.response, 'string');
});

test('/metrics is Prometheus text; /tokenize answers tokens', async () => {
  const m = await fetch(server.base + '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') || '', /text\/plain/);
  assert.match(await m.text(), /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+(Inf|NaN)?$/m);
  const t = await (await postJson(server.base + '/tokenize', { content: 'Once upon a time' })).json();
  assert.ok(Array.isArray(t.tokens) && t.tokens.length >= 2, JSON.stringify(t));
});

await run({ timeoutMs: 90000 });
