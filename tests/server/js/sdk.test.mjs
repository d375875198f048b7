// The official `openai` npm SDK against `vkai serve` (stories260K): models.list, chat completions
// stream and non-stream, legacy completions, seed determinism, and errors (404 unknown model, 400 bad
// request, 401 with --api-key). Usage: node sdk.test.mjs path/to/vkai
import OpenAI from 'openai';
import { assert, postJson, run, startServer, test } from './lib.mjs';

const server = await startServer(['--parallel', '2']);
const client = new OpenAI({ baseURL: server.base + '/v1', apiKey: 'unused', maxRetries: 0, timeout: 30000 });
let model = '';
const PROMPT = [{ role: 'user', content: 'Once upon a time' }];

test('models.list lists the model', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    assert.equal(typeof m.id, 'string');
    assert.equal(typeof m.created, 'number');
    assert.equal(typeof m.owned_by, 'string');
    ids.push(m.id);
  }
  assert.ok(ids.length >= 1, 'no models');
  model = ids[0];
  assert.match(model, /stories260K/);
});

let greedyText = '';
test('chat.completions.create non-stream: shape, usage, length limit', async () => {
  const r = await client.chat.completions.create({ model, messages: PROMPT, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /cmpl/);
  assert.equal(r.model, model);
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.index, 0);
  assert.equal(c.message.role, 'assistant');
  assert.equal(typeof c.message.content, 'string');
  assert.ok(['stop', 'length'].includes(c.finish_reason), c.finish_reason);
  assert.ok(r.usage.prompt_tokens > 0);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 12, JSON.stringify(r.usage));
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  if (c.finish_reason === 'length') assert.equal(r.usage.completion_tokens, 12);
  if ('timings' in r) assert.equal(typeof r.timings, 'object', 'timings must be an object, never null');
  assert.ok(r.timings !== null);
  greedyText = c.message.content;
});

test('chat: max_tokens 1 ends with finish_reason length', async () => {
  const r = await client.chat.completions.create({ model, messages: PROMPT, max_tokens: 1, temperature: 0 });
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 1);
});

test('chat.completions.create stream: chunks, usage chunk, same text as non-stream', async () => {
  const stream = await client.chat.completions.create({
    model, messages: PROMPT, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.length >= 3, 'too few chunks: ' + chunks.length);
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1, 'chunk ids differ');
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.model, model);
    assert.ok(c.timings !== null, 'timings: null');
  }
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const usageChunk = chunks[chunks.length - 1];
  assert.deepEqual(usageChunk.choices, [], 'the last chunk must be the usage chunk with empty choices');
  assert.ok(usageChunk.usage && usageChunk.usage.completion_tokens >= 1);
  const finish = chunks.filter((c) => c.choices.length && c.choices[0].finish_reason);
  assert.equal(finish.length, 1, 'exactly one chunk carries finish_reason');
  assert.ok(!finish[0].choices[0].delta.content, 'the finish chunk carries no content');
  const text = chunks.map((c) => (c.choices.length && c.choices[0].delta.content) || '').join('');
  assert.equal(text, greedyText, 'greedy stream and non-stream texts differ');
});

test('chat: content as an array of text parts, unknown keys and llama.cpp samplers accepted', async () => {
  const r = await client.chat.completions.create({
    model, max_tokens: 4, temperature: 0.7, top_p: 0.9, seed: 3,
    messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: [{ type: 'text', text: 'Once upon' }, { type: 'text', text: ' a time' }] }],
    // not in the SDK's types, sent as-is:
    top_k: 40, min_p: 0.05, repeat_penalty: 1.1, some_future_key: { a: 1 },
  });
  assert.equal(typeof r.choices[0].message.content, 'string');
});

test('completions.create: non-stream and stream agree under greedy decoding', async () => {
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 10, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 10);
  const stream = await client.completions.create({
    model, prompt: 'Once upon a time', max_tokens: 10, temperature: 0, stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += (chunk.choices[0] && chunk.choices[0].text) || '';
  assert.equal(text, r.choices[0].text);
});

test('seed determinism: same seed same text, different seeds differ', async () => {
  const ask = async (seed) => (await client.chat.completions.create({
    model, messages: PROMPT, max_tokens: 24, temperature: 1.0, seed,
  })).choices[0].message.content;
  const a = await ask(42);
  const b = await ask(42);
  assert.equal(a, b, 'seed 42 gave two different texts');
  const others = new Set([a, await ask(1), await ask(2), await ask(3)]);
  assert.ok(others.size >= 2, 'four seeds at temperature 1 all gave the same text: sampling ignores the seed');
});

test('unknown model: NotFoundError 404 with the OpenAI error shape', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: PROMPT, max_tokens: 2 }),
    (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, 'got ' + e.constructor.name + ' ' + e.message);
      assert.equal(e.status, 404);
      assert.equal(typeof e.error.message, 'string');
      return true;
    });
});

test('malformed request: BadRequestError 400', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: 'not a list', max_tokens: 2 }),
    (e) => { assert.ok(e instanceof OpenAI.BadRequestError, 'got ' + e.constructor.name); assert.equal(e.status, 400); return true; });
});

test('--api-key: a wrong key is AuthenticationError 401, no or an empty key 401, the right key works', async () => {
  const secured = await startServer(['--api-key', 'test-secret']);
  try {
    const base = secured.base + '/v1';
    const bad = new OpenAI({ baseURL: base, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(
      bad.chat.completions.create({ model, messages: PROMPT, max_tokens: 2 }),
      (e) => { assert.ok(e instanceof OpenAI.AuthenticationError, 'got ' + e.constructor.name); assert.equal(e.status, 401); return true; });
    // The SDK refuses an empty key, so a missing header and "Bearer " (Open WebUI's empty key) go by fetch.
    for (const headers of [{}, { Authorization: 'Bearer ' }]) {
      const res = await postJson(base + '/chat/completions', { model, messages: PROMPT, max_tokens: 2 }, headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(typeof (await res.json()).error.message, 'string');
    }
    const good = new OpenAI({ baseURL: base, apiKey: 'test-secret', maxRetries: 0 });
    const r = await good.chat.completions.create({ model, messages: PROMPT, max_tokens: 2 });
    assert.equal(r.choices.length, 1);
  } finally {
    await secured.stop();
  }
});

await run({ timeoutMs: 90000 });
