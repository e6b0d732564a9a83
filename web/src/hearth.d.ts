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
  /**
   * Threads for the CPU path (default: the cores, at most 8). More than one needs a
   * cross-origin isolated page (COOP/COEP headers) and `worker: true`; else one.
   */
  threads?: number;
}

export interface DeviceInfo {
  kind: 'webgpu' | 'cpu';
  /** Why this device was picked. */
  reason: string;
  adapter: string | null;
  maxBufferBytes: number | null;
  /** The CPU path's threads (null on WebGPU); `reason` says why that many. */
  threads: number | null;
}

/** A message of the conversation; `content` a string, or text parts joined with no separator. */
export interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string | { type: 'text'; text: string }[];
}

/** A completion_messages request: every field of the contract (docs/CONTRACT.md). */
export interface CompletionRequest {
  /** A served model's full id (`Qwen/Qwen2.5-0.5B-Instruct`) or its last path segment. */
  model: string;
  /** Non-empty. */
  messages: Message[];
  /** At least 1; default: until the context is full. */
  max_tokens?: number | null;
  /** 0 to 2, default 1; 0 is greedy. */
  temperature?: number | null;
  /** Greater than 0, at most 1 (default). */
  top_p?: number | null;
  /** -2 to 2, default 0. */
  presence_penalty?: number | null;
  /** -2 to 2, default 0 (extension). */
  frequency_penalty?: number | null;
  /** 1 to 8 answers from one prefill, default 1 (extension). */
  n?: number | null;
  /** Up to 4 non-empty strings; the answer ends before the first (extension). */
  stop?: string | string[] | null;
  /** 0 to 2^64 - 1: the same seed, request and model give the same answer (extension). */
  seed?: number | null;
  /** Set by `completionMessages` (false) and `completionMessagesStream` (true) themselves. */
  stream?: boolean | null;
  /** Passed to the chat template: Qwen3's switch for its thinking (extension). */
  enable_thinking?: boolean | null;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Prompt tokens found in the prompt cache instead of prefilled (extension); absent when none. */
  cached_tokens?: number;
  finish_reason: FinishReason;
}

/** One of several answers (`n` > 1). */
export interface Choice {
  index: number;
  answer: string;
  finish_reason: FinishReason;
  completion_tokens: number;
}

/** A whole answer's result. */
export interface CompletionResult {
  id: string;
  /** The served model's full id. */
  model: string;
  /** The first answer. */
  answer: string;
  /** A reasoning model's thinking, when it produced some; never part of `answer`. */
  reasoning?: string;
  /** Every answer, with `n` > 1. */
  choices?: Choice[];
  usage: Usage;
  /** Unix seconds. */
  created_at: number;
}

/** One event of a stream: new text of an answer; the last also carries `usage`. */
export interface StreamResult {
  id: string;
  model: string;
  /** New text, whole characters only. */
  delta: string;
  /** New thinking text, for a reasoning model. */
  reasoning_delta?: string;
  /** Which answer, with `n` > 1. */
  index?: number;
  /** On the last event only. */
  usage?: Usage;
  created_at: number;
}

/** Every error's code; its first three digits are the HTTP status (docs/CONTRACT.md). */
export type ErrorCode =
  | 40000 // bad_json
  | 40001 // invalid_field
  | 40002 // context_exceeded
  | 40003 // broken_body
  | 40100 // unauthorized
  | 40400 // unknown_model
  | 40401 // unknown_path
  | 40500 // method_not_allowed
  | 40800 // request_timeout
  | 41300 // body_too_large
  | 41500 // unsupported_media_type
  | 50300 // busy
  | 50000 // internal
  | 50200 // bad_gateway
  | 50400; // gateway_timeout

export interface Success<T> {
  code: 0;
  message: 'success';
  result: T;
}

export interface Failure {
  code: ErrorCode;
  /** What went wrong, in words a person can act on. */
  message: string;
  result: null;
}

/** The contract's envelope: a result, or an error; tell them apart by `code`. */
export type Envelope<T> = Success<T> | Failure;

/** Per-call options. */
export interface CallOptions {
  /** Ends this answer early, with what it has: finish_reason `abort`, and its usage. */
  signal?: AbortSignal;
}

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

  /**
   * Resolves to the envelope; errors are envelopes too, never thrown. A string is sent as it
   * is (its own `stream` decides; a streamed answer comes back joined).
   */
  completionMessages(request: CompletionRequest | string, options?: CallOptions): Promise<Envelope<CompletionResult>>;
  /**
   * The streaming envelopes: each result carries `delta` (new text, whole characters), the
   * last also `usage` with `finish_reason`. Never throws: an error is one envelope with a
   * non-zero code and `result: null`. Leaving the loop early (`break`) ends the answer.
   */
  completionMessagesStream(request: CompletionRequest | string, options?: CallOptions): AsyncGenerator<Envelope<StreamResult>, void, undefined>;
  /** Ends every generation in flight with what it has (finish_reason `abort`); nothing when idle. */
  abort(): void;
  /**
   * The HTTP contract, statuses included, for a service worker or any fetch-style code. The
   * request's `signal`, or cancelling the response body, ends its generation early.
   */
  handle(request: Request): Promise<Response>;
  /** Frees the model (and ends its Web Worker); later calls answer with an error envelope. Safe to call twice. */
  dispose(): void;
}
