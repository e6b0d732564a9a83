// hearth in the browser: Qwen2-family chat models on WebGPU or the CPU, answering
// POST /api/v1/chat/completion_messages (see docs/CONTRACT.md in the repository).

/** One file's progress while a checkpoint loads. */
export interface Progress {
  /** The file: `config.json`, `model.safetensors`, ...; `weights` while they are placed on the device. */
  file: string;
  /** Bytes so far. */
  loaded: number;
  /** Bytes in all (0 when the server does not say). */
  total: number;
  /** `download` from the network, `cache` from the Cache API, `load` onto the device. */
  phase: 'download' | 'cache' | 'load';
}

export interface LoadOptions {
  /** `auto` (default): WebGPU when an adapter exists and the model fits its limits, else the CPU. */
  device?: 'auto' | 'webgpu' | 'cpu';
  /**
   * What the weights are held in: `f32` (default); `f16` (on WebGPU only with `shader-f16`);
   * `q8`/`q4` quantize them at load to int8/int4 blocks, on the CPU path.
   */
  dtype?: 'f32' | 'f16' | 'q8' | 'q4';
  onProgress?: (progress: Progress) => void;
  /** The model id requests name; default: taken from the URL (`Qwen/Qwen2.5-0.5B-Instruct`). */
  modelId?: string;
  /** API keys `handle` requires (none: no auth). In-page calls never need one. */
  keys?: string[];
  /** Run inference in a Web Worker (default true) or in this thread. */
  worker?: boolean;
  /** Keep the files in the Cache API and reuse them (default true). */
  cache?: boolean;
}

export interface DeviceInfo {
  kind: 'webgpu' | 'cpu';
  /** Why this device was picked. */
  reason: string;
  adapter: string | null;
  maxBufferBytes: number | null;
}

/** The contract's envelope. */
export interface Envelope<T = any> {
  code: number;
  message: string;
  result: T | null;
}

/** A completion_messages request (an object, or its JSON text sent as it is). */
export type CompletionRequest = Record<string, unknown> | string;

export class Engine {
  /** Loads the checkpoint directory at `baseUrl` (a Hugging Face repo's `resolve/main/` works as it is). */
  static load(baseUrl: string, options?: LoadOptions): Promise<Engine>;
  /** Deletes every cached checkpoint file. */
  static clearCache(): Promise<void>;

  readonly device: DeviceInfo;
  readonly modelId: string;
  readonly contextLength: number;
  /** What the weights are held in: `f32`, `f16`, `q8` or `q4`. */
  readonly dtype: string;
  /** Milliseconds from the files being in memory to the model being ready on the device. */
  readonly loadMs: number;
  /**
   * Bytes of wasm memory once loaded: the most the load held at once (weights files stay in
   * JavaScript memory and pass into wasm a tensor at a time).
   */
  readonly loadHeapBytes: number;

  /** Resolves to the envelope; errors are envelopes too, never thrown. */
  completionMessages(request: CompletionRequest): Promise<Envelope>;
  /**
   * The streaming envelopes: each result carries `delta` (new text, whole characters), the
   * last also `usage` with `finish_reason`. Never throws: an error is one envelope with a
   * non-zero code and `result: null`.
   */
  completionMessagesStream(request: CompletionRequest): AsyncIterableIterator<Envelope>;
  /** Ends the running generation with what it has (finish_reason `abort`); nothing when idle. */
  abort(): void;
  /** The HTTP contract, statuses included, for a service worker or any fetch-style code. */
  handle(request: Request): Promise<Response>;
  /** Frees the model (and ends its Web Worker); later calls answer with an error envelope. Safe to call twice. */
  dispose(): void;
}
