// A checkpoint directory's files fetched by URL (the layout of a Hugging Face repo), kept in
// the Cache API so that a reload reads them from disk instead of the network. The shard
// index is read by the wasm module (initialised before a checkpoint is fetched, core.js).


const CACHE = 'hearth-checkpoints-v1';
const REQUIRED = ['config.json', 'tokenizer.json'];
// The same optional files as the engine reads (TextFiles::OPTIONAL in src/text/chat.rs).
const OPTIONAL = ['tokenizer_config.json', 'generation_config.json', 'chat_template.jinja'];
const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';

/** `base` with exactly one trailing slash. */
export function directoryUrl(base) {
  return base.endsWith('/') ? base : `${base}/`;
}

/** A single-file GGUF model's URL (`….gguf`, maybe with a query). */
export function isGguf(base) {
  return new URL(base, globalThis.location?.href ?? 'http://x/').pathname.endsWith('.gguf');
}

/** `Qwen/Qwen2.5-0.5B-Instruct` from a Hugging Face URL, else the directory's (or GGUF file's) last name. */
export function modelIdFromUrl(base) {
  const url = new URL(isGguf(base) ? base : directoryUrl(base), globalThis.location?.href);
  const parts = url.pathname.split('/').filter(Boolean);
  const resolve = parts.indexOf('resolve');
  if (resolve >= 2) return `${parts[resolve - 2]}/${parts[resolve - 1]}`;
  return parts.at(-1)?.replace(/\.gguf$/, '') ?? url.host;
}

/**
 * Every file the loader needs, as a Map of name -> Uint8Array.
 * `onProgress({file, loaded, total, phase})` hears each file's bytes; `shardFiles(indexBytes)`
 * (the wasm module's) names the shards a model.safetensors.index.json lists.
 */
export async function fetchCheckpoint(base, { shardFiles, onProgress = () => {}, cache = true }) {
  const store = cache && globalThis.caches ? await caches.open(CACHE) : null;
  if (isGguf(base)) {
    // One file is the whole model: config, tokenizer and template are in its metadata.
    const url = new URL(base, globalThis.location?.href).toString();
    const name = new URL(url).pathname.split('/').at(-1);
    const bytes = await fetchFile(url, name, store, onProgress);
    if (bytes === null) throw new Error(`${url}: not found (404)`);
    return new Map([[name, bytes]]);
  }
  const dir = directoryUrl(base);
  const files = new Map();
  const get = async (name, required) => {
    const bytes = await fetchFile(new URL(name, dir).toString(), name, store, onProgress);
    if (bytes === null && required) throw new Error(`${new URL(name, dir)}: not found (404)`);
    if (bytes !== null) files.set(name, bytes);
    return bytes;
  };
  for (const name of REQUIRED) await get(name, true);
  for (const name of OPTIONAL) await get(name, false);
  const index = await get(INDEX, false);
  const weights = index === null ? [SINGLE] : shardFiles(index);
  for (const name of weights) await get(name, true);
  return files;
}

/**
 * One file: from the cache when its entry matches what the server says of the file now
 * (ETag, else size), else downloaded and cached. `null` when the server has no such file.
 * Offline, a cached copy is used as it is.
 */
async function fetchFile(url, name, store, onProgress) {
  const cached = store ? await store.match(url) : undefined;
  let head;
  try {
    head = await retrying(() => fetch(url, { method: 'HEAD', cache: 'no-store' }));
  } catch (error) {
    if (cached) return fromCache(cached, name, onProgress);
    throw new Error(`${url}: ${error.message}`);
  }
  if (head.status === 404) return null;
  if (!head.ok) throw new Error(`${url}: HTTP ${head.status}`);
  const version = fileVersion(head);
  if (cached && cached.headers.get('x-hearth-version') === version) {
    return fromCache(cached, name, onProgress);
  }
  const bytes = await retrying(() => download(url, name, onProgress));
  if (store) {
    const headers = { 'content-type': 'application/octet-stream', 'x-hearth-version': version };
    await store.put(url, new Response(bytes, { headers }));
  }
  return bytes;
}

/** Tries in all. */
const ATTEMPTS = 3;

/**
 * `attempt()` again (after 250 ms, then 500 ms) when it fails without an answer: a dropped
 * connection or a body cut off part way. An HTTP status is an answer, never retried.
 */
async function retrying(attempt) {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= ATTEMPTS || /: HTTP \d+$/.test(error.message)) throw error;
      await new Promise((ok) => setTimeout(ok, 250 * i));
    }
  }
}

/** What identifies this version of a file: its ETag (the hub's X-Linked-Etag for LFS files), else its size. */
function fileVersion(head) {
  const etag = head.headers.get('x-linked-etag') ?? head.headers.get('etag');
  return etag ? `etag:${etag.replace(/^W\//, '')}` : `size:${head.headers.get('content-length') ?? '?'}`;
}

async function fromCache(response, name, onProgress) {
  const bytes = new Uint8Array(await response.arrayBuffer());
  onProgress({ file: name, loaded: bytes.length, total: bytes.length, phase: 'cache' });
  return bytes;
}

/** The body into one buffer of its announced size, reporting progress per chunk. */
async function download(url, name, onProgress) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get('content-length') ?? 0);
  const reader = response.body.getReader();
  let bytes = new Uint8Array(total);
  let loaded = 0;
  onProgress({ file: name, loaded, total, phase: 'download' });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > bytes.length) {
      // No (or a wrong) Content-Length: grow.
      const grown = new Uint8Array(Math.max(bytes.length * 2, loaded + value.length));
      grown.set(bytes.subarray(0, loaded));
      bytes = grown;
    }
    bytes.set(value, loaded);
    loaded += value.length;
    onProgress({ file: name, loaded, total: Math.max(total, loaded), phase: 'download' });
  }
  return loaded === bytes.length ? bytes : bytes.slice(0, loaded);
}

/** Deletes every cached checkpoint file. */
export async function clearCache() {
  if (globalThis.caches) await caches.delete(CACHE);
}
