// What the worker's tests start: the shared servers (tests/js/servers.mjs: test checkpoints,
// a local file server for MODEL_URL, the native `hearth serve`), and the built worker in
// Miniflare (workerd) on 127.0.0.1.

import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Miniflare } from 'miniflare';

import { SERVED_ID, TEST_KEY } from '../../tests/contract/runner.mjs';

export { HEARTH_BIN, serveFiles, serveWith, startNative, TEST_GGUFS, testModel } from '../../tests/js/servers.mjs';
export const WORKER_DIR = resolve(fileURLToPath(import.meta.url), '../..');

/** The built worker's code (worker/build: its JS and wasm), raw and gzipped, in bytes. */
export async function bundleSize() {
  const dir = join(WORKER_DIR, 'build');
  let raw = 0;
  let gzip = 0;
  for (const name of await readdir(dir, { recursive: true })) {
    if (!/\.(js|mjs|wasm)$/.test(name)) continue;
    const bytes = await readFile(join(dir, name));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { raw, gzip };
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
