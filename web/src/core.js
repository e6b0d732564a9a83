// The engine in this thread: the checkpoint fetched (files.js), the wasm engine loaded, and
// requests answered through it. The Web Worker runs exactly this; so does `worker: false`.

import { fetchCheckpoint, modelIdFromUrl } from './files.js';

/**
 * The two builds of the engine: `main` (WebGPU and the CPU on one thread) and `threads` (the
 * CPU only, its kernels split over a pool of Web Workers: wasm threads need shared memory,
 * so a page that is cross-origin isolated, and a worker, since the engine's thread waits on
 * the pool with Atomics.wait, which the page's own thread may not).
 */
const BUILDS = { main: './pkg/', threads: './pkg-threads/' };
const loaded = {};

/** Compiles `build` once per thread; the threaded one starts its pool of `threads` then. */
function initWasm(build, threads) {
  loaded[build] ??= (async () => {
    const glue = await import(`${BUILDS[build]}hearth_wasm.js`);
    await glue.default({ module_or_path: new URL(`${BUILDS[build]}hearth_wasm_bg.wasm`, import.meta.url) });
    if (build === 'threads') await glue.initThreadPool(threads);
    return { glue, threads: build === 'threads' ? threads : 1 };
  })();
  return loaded[build];
}

/** How many threads the CPU path can have here, and why. */
function threading(wanted) {
  if (wanted === 1) return { threads: 1, why: 'one thread, as the page asked' };
  if (!globalThis.crossOriginIsolated) {
    return {
      threads: 1,
      why: 'one thread: the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)',
    };
  }
  if (typeof WorkerGlobalScope === 'undefined') {
    return { threads: 1, why: 'one thread: the engine runs in the page (worker: false), which may not wait on threads' };
  }
  const threads = wanted ?? Math.min(navigator.hardwareConcurrency || 1, 8);
  return { threads, why: `${threads} threads (cross-origin isolated)` };
}

export class CoreEngine {
  constructor(glue, wasm, threads) {
    this.glue = glue;
    this.wasm = wasm;
    const info = JSON.parse(wasm.info());
    const cpu = info.device === 'cpu';
    this.info = { ...info, threads: cpu ? threads.threads : null, reason: cpu ? `${info.reason}; ${threads.why}` : info.reason };
  }

  /**
   * Fetches and loads; `onProgress` hears downloads and the weights' placement. `threads`:
   * the CPU path's pool (default: the cores, at most 8, where the page allows threads).
   */
  static async load(baseUrl, { device = 'auto', dtype, modelId, keys = [], cache = true, threads, onProgress = () => {} } = {}) {
    const webgpuUnavailable = device === 'cpu' ? null : await prepareWebGpu(device);
    // The threaded build has no WebGPU: it serves only what is sure to run on the CPU.
    let plan = device === 'cpu' || (device === 'auto' && webgpuUnavailable) ? threading(threads) : { threads: 1, why: 'one thread (the build with WebGPU)' };
    const { glue, threads: pool } = await initWasm(plan.threads > 1 ? 'threads' : 'main', plan.threads);
    if (pool !== plan.threads) plan = { threads: pool, why: `${pool} threads (the pool this thread started first)` };
    const files = await fetchCheckpoint(baseUrl, { shardFiles: glue.shardFiles, onProgress, cache });
    const options = JSON.stringify({ device, dtype, modelId: modelId ?? modelIdFromUrl(baseUrl), keys, webgpuUnavailable });
    const placed = (loaded, total) => onProgress({ file: 'weights', loaded, total, phase: 'load' });
    return new CoreEngine(glue, await glue.WasmEngine.load(files, options, placed), plan);
  }

  abort() {
    this.wasm.abort();
  }

  /**
   * One request, started now: op 'handle' with `{request: {method, path, authorization,
   * contentType, body: Uint8Array}}`, or op 'complete' with `{body}` (a completion_messages
   * body from the page itself). Returns `{response, cancel}`: `response` resolves to
   * `{status, headers, text}` or `{status, headers, next}` (a stream); `cancel()` ends the
   * request's generation early with what it has (finish_reason "abort").
   */
  request(op, { request, body }) {
    const token = new this.glue.WasmCancel();
    let live = true;
    const release = () => {
      if (live) token.free();
      live = false;
    };
    const pending =
      op === 'handle'
        ? this.wasm.handle(request.method, request.path, request.authorization, request.contentType, request.body, token)
        : this.wasm.complete(body, token);
    const response = pending.then(
      (r) => answer(r, release),
      (error) => {
        release();
        throw error;
      },
    );
    return { response, cancel: () => live && token.cancel() };
  }

  dispose() {
    this.wasm.free();
  }
}

/**
 * Why WebGPU cannot be used here, or null. hearth's kernels need no optional feature
 * (`subgroups`, `shader-f16`), so any adapter runs them; but "auto" passes over a software
 * one (a fallback adapter such as SwiftShader), which answers far slower than the CPU path.
 */
async function prepareWebGpu(device) {
  if (!globalThis.navigator?.gpu) return 'this browser has no WebGPU (navigator.gpu is missing)';
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return 'the browser offers no WebGPU adapter';
  const info = adapter.info ?? {};
  const software = info.isFallbackAdapter || adapter.isFallbackAdapter || /swiftshader|llvmpipe|warp/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
  if (device === 'auto' && software) {
    return `the WebGPU adapter is a software one (${[info.vendor, info.architecture].filter(Boolean).join(' ') || 'a fallback adapter'})`;
  }
  return null;
}

/** `release` runs once the response is read to its end. */
function answer(response, release) {
  const head = { status: response.status(), headers: JSON.parse(response.headers()) };
  const text = response.text();
  if (text !== undefined) {
    response.free();
    release();
    return { ...head, text };
  }
  const next = async () => {
    const chunk = await response.next();
    if (chunk === undefined) {
      response.free();
      release();
    }
    return chunk;
  };
  return { ...head, next };
}
