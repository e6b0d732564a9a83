#!/usr/bin/env node
// Serves the chat page (web/dist) on 127.0.0.1, and with --model-dir DIR a local checkpoint
// at /models/NAME/ (the page then loads it by that URL). The tests serve with the same code.
// The page is cross-origin isolated (COOP/COEP headers), so the CPU path runs on threads.
//
//   node web/serve.mjs [--port 8000] [--model-dir DIR ...]

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

/**
 * What makes a page cross-origin isolated (`crossOriginIsolated`), which SharedArrayBuffer
 * and so wasm threads need. Any static host can send them; a page under them loads
 * cross-origin files only with CORS (as the Hugging Face hub answers) or CORP.
 */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

/**
 * Serves directories over HTTP (GET and HEAD, with Content-Length and an ETag) on 127.0.0.1,
 * counting requests per method and path. `mounts` is a directory (served at /) or
 * `{'/prefix/': dir, ...}`; `isolated` adds the ISOLATION_HEADERS.
 */
export async function serveFiles(mounts, { port = 0, isolated = false } = {}) {
  const table = Object.entries(typeof mounts === 'string' ? { '/': mounts } : mounts);
  const counts = new Map();
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const key = `${req.method} ${path}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const [prefix, dir] = table.find(([p]) => path.startsWith(p)) ?? [];
    // A folder's URL is its index.html, as on any static host: the printed `/?model=…` opens.
    const name = path.endsWith('/') ? `${path}index.html` : path;
    const file = dir === undefined ? '' : join(dir, name.slice(prefix.length));
    if (dir === undefined || !file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const { size, mtimeMs } = statSync(file);
    res.writeHead(200, {
      'content-length': size,
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      etag: `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`,
      'cache-control': 'no-cache',
      ...(isolated ? ISOLATION_HEADERS : {}),
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  // Clients reuse idle connections; Node's 5 s default would drop one between two files of
  // a long load ("Network connection lost").
  server.keepAliveTimeout = 600_000;
  const url = await listen(server, port);
  return {
    url,
    count: (method, path) => counts.get(`${method} ${path}`) ?? 0,
    /** Requests so far whose path starts with `prefix`, as "METHOD path". */
    requests: (prefix = '/') => [...counts].filter(([k]) => k.split(' ')[1].startsWith(prefix)),
    close: () => close(server),
  };
}

/** An HTTP server on 127.0.0.1 answering with `handler(req, res)`. */
export async function serveWith(handler) {
  const server = createServer(handler);
  const url = await listen(server);
  return { url, close: () => close(server) };
}

function listen(server, port = 0) {
  return new Promise((ok) => server.listen(port, '127.0.0.1', () => ok(`http://127.0.0.1:${server.address().port}`)));
}

function close(server) {
  server.closeAllConnections?.();
  return new Promise((ok) => server.close(() => ok()));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '8000' }, 'model-dir': { type: 'string', multiple: true, default: [] } },
  });
  const dist = resolve(fileURLToPath(import.meta.url), '../dist');
  if (!existsSync(join(dist, 'index.html'))) {
    console.error(`${dist}/index.html is missing: build the package first with \`bash web/build.sh\``);
    process.exit(1);
  }
  const mounts = {};
  for (const dir of values['model-dir']) mounts[`/models/${basename(resolve(dir))}/`] = resolve(dir);
  const { url } = await serveFiles({ ...mounts, '/': dist }, { port: Number(values.port), isolated: true });
  console.log(`chat page: ${url}/`);
  for (const prefix of Object.keys(mounts)) console.log(`model: ${url}/?model=${prefix}&autoload=1`);
}
