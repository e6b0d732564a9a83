// The engine in this thread: the checkpoint fetched (files.js), the wasm engine loaded, and
// requests answered through it. The Web Worker runs exactly this; so does `worker: false`.

import init, { WasmEngine } from './pkg/hearth_wasm.js';
import { fetchCheckpoint, modelIdFromUrl } from './files.js';

let ready;

/** Compiles the wasm module once per thread. */
function initWasm() {
  ready ??= init({ module_or_path: new URL('./pkg/hearth_wasm_bg.wasm', import.meta.url) });
  return ready;
}

export class CoreEngine {
  constructor(wasm) {
    this.wasm = wasm;
    this.info = JSON.parse(wasm.info());
  }

  /** Fetches and loads; `onProgress` hears downloads and the weights' placement. */
  static async load(baseUrl, { device = 'auto', dtype, modelId, keys = [], cache = true, onProgress = () => {} } = {}) {
    await initWasm();
    const webgpuUnavailable = device === 'cpu' ? null : await prepareWebGpu(device);
    const files = await fetchCheckpoint(baseUrl, { onProgress, cache });
    const options = JSON.stringify({ device, dtype, modelId: modelId ?? modelIdFromUrl(baseUrl), keys, webgpuUnavailable });
    const placed = (loaded, total) => onProgress({ file: 'weights', loaded, total, phase: 'load' });
    return new CoreEngine(await WasmEngine.load(files, options, placed));
  }

  abort() {
    this.wasm.abort();
  }

  /**
   * One HTTP request: `{method, path, authorization, contentType, body: Uint8Array}` in;
   * `{status, headers, text}` or `{status, headers, next}` (a stream) out.
   */
  async handle({ method, path, authorization, contentType, body }) {
    return answer(await this.wasm.handle(method, path, authorization, contentType, body));
  }

  /** A completion_messages body (bytes) from the page itself. */
  async complete(body) {
    return answer(await this.wasm.complete(body));
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

function answer(response) {
  const head = { status: response.status(), headers: JSON.parse(response.headers()) };
  const text = response.text();
  if (text !== undefined) {
    response.free();
    return { ...head, text };
  }
  const next = async () => {
    const chunk = await response.next();
    if (chunk === undefined) response.free();
    return chunk;
  };
  return { ...head, next };
}
