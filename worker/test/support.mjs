// What the worker's tests start: test checkpoints, a local file server for MODEL_URL, the
// native `hearth serve`, and the built worker in Miniflare (workerd) on 127.0.0.1.

import { spawn, execFileSync } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { homedir } from 'node:os';
import { join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';

import { SERVED_ID, TEST_KEY } from '../../tests/contract/runner.mjs';

export const WORKER_DIR = resolve(fileURLToPath(import.meta.url), '../..');
const CACHE = process.env.HEARTH_CACHE ?? join(homedir(), '.cache/hearth');

/** The native binary: HEARTH_BIN, else the release build in CARGO_TARGET_DIR or the shared one. */
export const HEARTH_BIN =
  process.env.HEARTH_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(CACHE, 'target'), 'release/hearth');

/** A test checkpoint directory made by `hearth make-test-model` (cached: same seed, same bytes). */
export function testModel(preset) {
  const dir = join(CACHE, 'worker-models', preset);
  if (!existsSync(join(dir, 'config.json'))) {
    execFileSync(HEARTH_BIN, ['make-test-model', '--out', dir, '--preset', preset], { stdio: 'inherit' });
  }
  return dir;
}

/** Serves `dir` over HTTP (GET and HEAD) on 127.0.0.1, counting requests per method and path. */
export async function serveFiles(dir) {
  const counts = new Map();
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const key = `${req.method} ${path}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const file = join(dir, path);
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': statSync(file).size, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  // workerd reuses idle connections; Node's 5 s default would drop one between two files of
  // a long load ("Network connection lost").
  server.keepAliveTimeout = 600_000;
  const url = await listen(server);
  return { url, count: (method, path) => counts.get(`${method} ${path}`) ?? 0, close: () => close(server) };
}

/** An HTTP server on 127.0.0.1 answering with `handler(req, res)`. */
export async function serveWith(handler) {
  const server = createServer(handler);
  const url = await listen(server);
  return { url, close: () => close(server) };
}

function listen(server) {
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${server.address().port}`)));
}

function close(server) {
  server.closeAllConnections?.();
  return new Promise((ok) => server.close(() => ok()));
}

/** `hearth serve` on a free loopback port, on the CPU, answering with `key`. */
export async function startNative(modelDir, key = TEST_KEY) {
  const child = spawn(
    HEARTH_BIN,
    ['serve', '--model-dir', modelDir, '--model-id', SERVED_ID, '--backend', 'cpu', '--port', '0', '--api-key', key],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1', RUST_LOG: 'info' } },
  );
  let log = '';
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`hearth serve did not start in 60 s:\n${log}`)), 60_000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const found = /serving on (http:\/\/[0-9.]+:\d+)/.exec(log);
      if (found) {
        clearTimeout(timer);
        ok(found[1]);
      }
    });
    child.on('exit', (code) => fail(new Error(`hearth serve exited with ${code}:\n${log}`)));
  });
  child.stderr.resume();
  return {
    url,
    close: () =>
      new Promise((ok) => {
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}

/** The built worker (worker/build) in Miniflare with these vars, secrets and R2 buckets. */
export async function startWorker(bindings, { r2Buckets } = {}) {
  const mf = new Miniflare({
    modules: true,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    scriptPath: join(WORKER_DIR, 'build/index.js'),
    modulesRoot: join(WORKER_DIR, 'build'),
    compatibilityDate: '2026-04-01',
    cf: false,
    host: '127.0.0.1',
    port: 0,
    bindings: { MODEL_ID: SERVED_ID, API_KEYS: TEST_KEY, ...bindings },
    r2Buckets,
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  return { mf, url, close: () => mf.dispose() };
}

/**
 * `fetch`, sent again once when the socket it reused turns out closed by the server before
 * any answer (undici keeps idle connections that workerd may already have dropped). Nothing
 * the worker answered is ever retried.
 */
export async function fetchFresh(url, init) {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (error.cause?.code !== 'UND_ERR_SOCKET' && error.cause?.code !== 'ECONNRESET') throw error;
    return fetch(url, init);
  }
}

/** POSTs a completion request to `url` with the test key; returns {status, headers, body, ms}. */
export async function complete(url, request, path = '/api/v1/chat/completion_messages') {
  const started = performance.now();
  const response = await fetchFresh(url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: SERVED_ID, ...request }),
  });
  const body = await response.text();
  return { status: response.status, headers: response.headers, body, ms: performance.now() - started };
}
