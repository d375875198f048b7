// Shared by the server test scripts: start `vkai serve` on a free loopback port, wait for /health,
// stop it at the end (also on a crash or a timeout), a tiny sequential test runner, and an SSE reader.
// Usage of a script: node <script>.mjs path/to/vkai  (run from the repository root, like ctest does).
import { spawn } from 'node:child_process';
import net from 'node:net';
import assert from 'node:assert/strict';

export { assert };
export const MODEL = 'models/stories260K.gguf';
export const vkaiPath = process.argv[2];
if (!vkaiPath) {
  console.error('usage: node ' + process.argv[1] + ' path/to/vkai');
  process.exit(2);
}

const servers = new Set();

// A free port from the kernel (listen on 0, read it, close). The tiny race with another process is fine here.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

// Starts `vkai serve -m MODEL --port P ...extra`; resolves once GET /health answers 200.
// The returned object has base ("http://127.0.0.1:P"), log() (everything the server printed) and stop().
export async function startServer(extra = [], { model = MODEL, timeoutMs = 30000 } = {}) {
  const port = await freePort();
  // One compute thread: ctest runs tests side by side on 2 cores, and spinning worker threads of several
  // servers on the same cores slow each other down by orders of magnitude.
  const args = ['serve', '-m', model, '--host', '127.0.0.1', '--port', String(port), '-t', '1', ...extra];
  const proc = spawn(vkaiPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  let exited = null;
  const exitPromise = new Promise((r) => proc.on('exit', (code, signal) => { exited = { code, signal }; r(exited); }));
  const server = {
    base: 'http://127.0.0.1:' + port, port, proc,
    log: () => output,
    // SIGTERM, then SIGKILL after 5 s. Rejects when the server printed a sanitizer report.
    async stop() {
      servers.delete(server);
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exitPromise;
        clearTimeout(t);
      }
      if (/AddressSanitizer|LeakSanitizer|runtime error:/.test(output)) {
        throw new Error('sanitizer report from the server:\n' + output.slice(-4000));
      }
      return exited;
    },
  };
  servers.add(server);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`vkai serve exited early (${JSON.stringify(exited)}): ${output.slice(-2000)}`);
    try {
      const res = await fetch(server.base + '/health');
      if (res.status === 200) return server;
    } catch (e) { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error('vkai serve did not become healthy: ' + output.slice(-2000));
    await sleep(100);
  }
}

function killAll() {
  for (const s of servers) { try { s.proc.kill('SIGKILL'); } catch (e) { /* gone */ } }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(1); });

// Sequential runner: test(name, fn) registers, run() executes all, prints results, exits 0 only if all pass.
const tests = [];
export function test(name, fn) { tests.push({ name, fn }); }
export async function run({ timeoutMs = 90000, after = async () => {} } = {}) {
  const timer = setTimeout(() => {
    console.error(`FAIL: the whole script took longer than ${timeoutMs / 1000} s`);
    killAll();
    process.exit(1);
  }, timeoutMs);
  let failed = 0;
  for (const t of tests) {
    const t0 = Date.now();
    try {
      await t.fn();
      console.log(`ok   ${t.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${t.name}: ${e && e.stack ? e.stack : e}`);
    }
  }
  try { await after(); } catch (e) { failed++; console.log('FAIL cleanup: ' + (e.stack || e)); }
  for (const s of [...servers]) {
    try { await s.stop(); } catch (e) { failed++; console.log('FAIL server stop: ' + e.message); }
  }
  clearTimeout(timer);
  console.log(`${tests.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// Reads a fetch Response body as server-sent events, the way Open WebUI does (utils/middleware.py):
// line by line, blank lines and lines not starting with "data:" skipped. Returns the data payloads
// (strings, "[DONE]" included) in order.
export async function readSse(res) {
  const text = await res.text();
  const out = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.startsWith('data:')) continue;
    out.push(line.slice(5).trim());
  }
  return out;
}

// POST JSON, returns the Response.
export function postJson(url, body, headers = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

// The first model id the server lists (for -m models/stories260K.gguf the server picks the id).
export async function firstModelId(base) {
  const res = await fetch(base + '/v1/models');
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.ok(Array.isArray(body.data) && body.data.length > 0, 'no models listed: ' + JSON.stringify(body));
  return body.data[0].id;
}
