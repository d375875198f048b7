// Load test on stories260K: 16 concurrent streaming chat clients (more than the 8 slots, so some
// queue), each with its own seed and sampling at temperature 1. Each client's text must equal the text
// of the same request run alone: batching, slot reuse and queueing must not leak state between
// requests. Aggregate tokens/s are printed (a log line, never asserted). Usage: node load.test.mjs vkai
import { assert, postJson, readSse, run, startServer, test } from './lib.mjs';

const CLIENTS = 16;
const MAX_TOKENS = 32;
const server = await startServer(['--parallel', '8']);
const res0 = await (await fetch(server.base + '/v1/models')).json();
const model = res0.data[0].id;

const PROMPTS = ['Once upon a time', 'The little dog', 'Lily wanted to', 'One day, Tom'];
function request(i) {
  return {
    model, stream: true, stream_options: { include_usage: true }, max_tokens: MAX_TOKENS,
    temperature: 1.0, top_p: 0.95, seed: 1000 + i,
    messages: [{ role: 'user', content: PROMPTS[i % PROMPTS.length] }],
  };
}

// One streamed request: its text and completion token count.
async function stream(i) {
  const res = await postJson(server.base + '/v1/chat/completions', request(i));
  assert.equal(res.status, 200, `client ${i}: ` + await res.clone().text());
  let text = '';
  let tokens = 0;
  const payloads = await readSse(res);
  assert.equal(payloads[payloads.length - 1], '[DONE]', `client ${i}: no [DONE]`);
  for (const p of payloads.slice(0, -1)) {
    const c = JSON.parse(p);
    if (c.usage) tokens = c.usage.completion_tokens;
    if (c.choices && c.choices.length && c.choices[0].delta.content) text += c.choices[0].delta.content;
  }
  return { text, tokens };
}

test(`${CLIENTS} concurrent streaming clients each get the text of their request run alone`, async () => {
  const alone = [];
  let t0 = performance.now();
  for (let i = 0; i < CLIENTS; i++) alone.push(await stream(i));
  const serialMs = performance.now() - t0;
  t0 = performance.now();
  const together = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => stream(i)));
  const concurrentMs = performance.now() - t0;
  const distinct = new Set(alone.map((r) => r.text));
  assert.ok(distinct.size >= CLIENTS / 2, `only ${distinct.size} distinct texts for ${CLIENTS} seeds`);
  const wrong = [];
  for (let i = 0; i < CLIENTS; i++) {
    assert.ok(alone[i].tokens >= 1, `client ${i}: no tokens`);
    if (together[i].text !== alone[i].text || together[i].tokens !== alone[i].tokens) {
      wrong.push(`client ${i} (seed ${1000 + i}): alone ${JSON.stringify(alone[i].text)} (${alone[i].tokens} tokens), ` +
        `concurrent ${JSON.stringify(together[i].text)} (${together[i].tokens} tokens)`);
    }
  }
  assert.equal(wrong.length, 0, 'concurrent outputs differ from single-client outputs:\n' + wrong.join('\n'));
  const total = alone.reduce((s, r) => s + r.tokens, 0);
  console.log(`log: ${total} tokens; one client at a time ${(total / serialMs * 1000).toFixed(0)} tok/s, ` +
    `${CLIENTS} concurrent on 8 slots ${(total / concurrentMs * 1000).toFixed(0)} tok/s (includes HTTP; not asserted)`);
});

test('the server still answers after the load', async () => {
  const res = await fetch(server.base + '/health');
  assert.equal(res.status, 200);
});

await run({ timeoutMs: 90000 });
