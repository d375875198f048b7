// The official `openai` npm SDK's audio API against `vkai serve` with a whisper model beside the LLM:
// client.audio.transcriptions.create / translations.create with files from ../shared/data/whisper,
// every response_format, and errors (404 unknown model, 400 not audio). The whisper model is a
// random-weight "whisper-test" shape with the real vocabulary, written as GGUF by `vkai synth`, so
// this also runs the whisper GGUF layout end to end. Usage: node audio.test.mjs path/to/vkai
import OpenAI, { toFile } from 'openai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assert, run, startServer, test, vkaiPath } from './lib.mjs';

const DATA = process.env.VKAI_DATA || '../shared/data';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vkai-audio-'));
const wmodel = path.join(tmp, 'wtest.gguf');
execFileSync(vkaiPath, ['synth', '--preset', 'whisper-test', '--layers', '1', '--vocab', DATA + '/whisper/for-tests-ggml-tiny.bin', '-o', wmodel],
  { stdio: ['ignore', 'ignore', 'pipe'] });

const server = await startServer([wmodel, '--max-audio-mb', '2']);
const client = new OpenAI({ baseURL: server.base + '/v1', apiKey: 'unused', maxRetries: 0, timeout: 120000 });
const jfk = DATA + '/whisper/jfk.wav';
// best_of 1: one sample per fallback temperature (random weights fall back on every window).
const FAST = { best_of: 1 };

test('models.list shows the whisper model beside the LLM', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('wtest'), JSON.stringify(ids));
  assert.ok(ids.some((id) => /stories260K/.test(id)), JSON.stringify(ids));
});

test('transcriptions.create: json (default) with a read stream', async () => {
  const r = await client.audio.transcriptions.create({ file: fs.createReadStream(jfk), model: 'whisper-1', language: 'en', ...FAST });
  assert.equal(typeof r.text, 'string');
  assert.equal(r.usage?.type, 'duration');
  assert.equal(r.usage?.seconds, 11);
});

test('transcriptions.create: verbose_json with segment timestamps', async () => {
  const r = await client.audio.transcriptions.create({
    file: fs.createReadStream(jfk), model: 'wtest', response_format: 'verbose_json', timestamp_granularities: ['segment'], language: 'en', ...FAST,
  });
  assert.equal(r.task, 'transcribe');
  assert.equal(r.language, 'english');
  assert.ok(Math.abs(r.duration - 11) < 1e-6, String(r.duration));
  assert.ok(Array.isArray(r.segments));
  let prev = 0;
  r.segments.forEach((s, i) => {
    assert.equal(s.id, i);
    assert.ok(s.start >= prev - 1e-9 && s.start <= s.end && s.end <= 11 + 1e-9, JSON.stringify(s));
    for (const k of ['seek', 'temperature', 'avg_logprob', 'compression_ratio', 'no_speech_prob']) assert.equal(typeof s[k], 'number', k);
    assert.ok(Array.isArray(s.tokens));
    prev = s.start;
  });
  assert.equal(r.text, r.segments.map((s) => s.text).join('').trim());
});

test('transcriptions.create: text, srt and vtt come back as strings; an mp3 from a Buffer', async () => {
  const mp3 = await toFile(fs.readFileSync(DATA + '/whisper/jfk.mp3'), 'jfk.mp3');
  const text = await client.audio.transcriptions.create({ file: mp3, model: 'wtest', response_format: 'text', language: 'en', ...FAST });
  assert.equal(typeof text, 'string');
  assert.ok(text.endsWith('\n'));
  const srt = await client.audio.transcriptions.create({ file: fs.createReadStream(jfk), model: 'wtest', response_format: 'srt', language: 'en', ...FAST });
  assert.equal(typeof srt, 'string');
  assert.match(srt, /^1\n\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d\n/);
  const vtt = await client.audio.transcriptions.create({ file: fs.createReadStream(jfk), model: 'wtest', response_format: 'vtt', language: 'en', ...FAST });
  assert.equal(typeof vtt, 'string');
  assert.ok(vtt.startsWith('WEBVTT\n\n'), vtt.slice(0, 40));
});

test('translations.create: verbose_json task translate', async () => {
  const r = await client.audio.translations.create({ file: fs.createReadStream(jfk), model: 'wtest', response_format: 'verbose_json', ...FAST });
  assert.equal(r.task, 'translate');
  assert.equal(typeof r.text, 'string');
});

test('unknown model: NotFoundError 404', async () => {
  await assert.rejects(
    client.audio.transcriptions.create({ file: fs.createReadStream(jfk), model: 'no-such-model' }),
    (e) => { assert.ok(e instanceof OpenAI.NotFoundError, 'got ' + e.constructor.name + ' ' + e.message); assert.equal(e.status, 404); return true; });
});

test('not audio: BadRequestError 400 naming the problem; too large: 413', async () => {
  const notAudio = await toFile(Buffer.from('just some text, certainly not audio\n'.repeat(50)), 'notes.wav');
  await assert.rejects(
    client.audio.transcriptions.create({ file: notAudio, model: 'wtest' }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, 'got ' + e.constructor.name);
      assert.equal(e.status, 400);
      assert.match(e.error.message, /not audio|decode/);
      return true;
    });
  const big = await toFile(Buffer.alloc(2.5 * 1024 * 1024, 1), 'big.wav');
  await assert.rejects(
    client.audio.transcriptions.create({ file: big, model: 'wtest' }),
    (e) => { assert.equal(e.status, 413, 'got ' + e.status + ' ' + e.message); return true; });
});

test('the server keeps serving chat after the audio requests', async () => {
  const r = await client.chat.completions.create({ model: 'stories260K', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 4 });
  assert.equal(r.choices.length, 1);
});

await run({ timeoutMs: 240000, after: async () => fs.rmSync(tmp, { recursive: true, force: true }) });
