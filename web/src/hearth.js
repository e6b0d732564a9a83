// hearth in the browser: load a Qwen2-family checkpoint by URL and answer the chat contract
// (POST /api/v1/chat/completion_messages) on WebGPU or the CPU. Types: hearth.d.ts.
// Inference runs in a Web Worker by default; `{worker: false}` runs it in this thread with
// the same API.

import { clearCache } from './files.js';

const COMPLETION = '/api/v1/chat/completion_messages';
const encoder = new TextEncoder();

/** The envelope of an error found on this side of the engine (it never throws). */
const internalError = (error) => ({
  code: 50000,
  message: `internal error: ${error?.message ?? error}`,
  result: null,
});

export class Engine {
  #transport;
  /** How it was loaded: what a reload after a lost device repeats. */
  #origin;
  #reloading = null;

  constructor(transport, info, origin) {
    this.#transport = transport;
    this.#origin = origin;
    this.#describe(info);
  }

  #describe(info) {
    this.modelId = info.modelId;
    this.contextLength = info.contextLength;
    this.dtype = info.dtype;
    this.loadMs = info.loadMs;
    this.loadHeapBytes = info.loadHeapBytes;
    this.device = {
      kind: info.device,
      reason: info.reason,
      adapter: info.adapter ?? null,
      maxBufferBytes: info.maxBufferBytes ?? null,
      threads: info.threads,
    };
  }

  static async load(baseUrl, options = {}) {
    const { worker = true, onProgress = () => {}, ...rest } = options;
    const origin = { url: new URL(baseUrl, globalThis.location?.href).toString(), worker, rest };
    const transport = Engine.#transportFor(origin);
    try {
      const info = await transport.load(origin.url, rest, onProgress);
      return new Engine(transport, info, origin);
    } catch (error) {
      transport.dispose();
      throw error;
    }
  }

  static #transportFor({ worker }) {
    return worker ? new WorkerTransport() : new InlineTransport();
  }

  /**
   * The engine, loaded again when its WebGPU device was lost: the files come from the Cache
   * API (or the network, for a page that keeps no cache), onto a new device.
   */
  async #ready() {
    if (!this.#transport.lost) return;
    this.#reloading ??= (async () => {
      const { url, rest } = this.#origin;
      this.#transport.dispose();
      const transport = Engine.#transportFor(this.#origin);
      this.#transport = transport;
      this.#describe(await transport.load(url, rest, () => {}));
    })().finally(() => {
      this.#reloading = null;
    });
    await this.#reloading;
  }

  static clearCache() {
    return clearCache();
  }

  /**
   * One answer, whole. `signal` (an AbortSignal) ends it early: the answer comes back with
   * what it has, finish_reason "abort" and its usage.
   */
  async completionMessages(request, { signal } = {}) {
    const body = typeof request === 'string' ? request : JSON.stringify({ ...request, stream: false });
    const started = this.#start('complete', { body: encoder.encode(body) }, signal);
    try {
      const response = await started.response;
      if (response.text !== undefined) return JSON.parse(response.text);
      // A string body that asked for a stream: its deltas joined into one answer.
      let last = internalError('the stream ended early');
      let answer = '';
      for await (const envelope of envelopes(response)) {
        last = envelope;
        answer += envelope.result?.delta ?? '';
      }
      if (last.code !== 0 || !last.result) return last;
      const { delta, ...result } = last.result;
      return { ...last, result: { ...result, answer } };
    } catch (error) {
      return internalError(error);
    } finally {
      started.settle();
    }
  }

  /**
   * The answer's envelopes as they come. `signal` ends it early (the last envelope says
   * finish_reason "abort"); leaving the loop early (`break`) ends it too.
   */
  async *completionMessagesStream(request, { signal } = {}) {
    const body = typeof request === 'string' ? request : JSON.stringify({ ...request, stream: true });
    const started = this.#start('complete', { body: encoder.encode(body) }, signal);
    let response;
    try {
      try {
        response = await started.response;
      } catch (error) {
        yield internalError(error);
        return;
      }
      if (response.text !== undefined) {
        yield JSON.parse(response.text);
        return;
      }
      yield* envelopes(response);
    } finally {
      started.settle(response);
    }
  }

  /** Ends every answer in flight, each with what it has (finish_reason "abort"). */
  abort() {
    this.#transport.abort();
  }

  /**
   * `fetch`'s contract: a Request in, a Response out. The request's `signal` ends its
   * generation early; so does cancelling the response body.
   */
  async handle(request) {
    const url = new URL(request.url);
    const method = request.method;
    const body = ['GET', 'HEAD'].includes(method) ? new Uint8Array(0) : new Uint8Array(await request.arrayBuffer());
    const payload = {
      request: {
        method,
        path: url.pathname + url.search,
        authorization: request.headers.get('authorization') ?? undefined,
        contentType: request.headers.get('content-type') ?? undefined,
        body,
      },
    };
    const started = this.#start('handle', payload, request.signal);
    let response;
    try {
      response = await started.response;
    } catch (error) {
      started.settle();
      throw error;
    }
    const init = { status: response.status, headers: response.headers };
    if (response.text !== undefined) {
      started.settle();
      return new Response(response.text, init);
    }
    const stream = new ReadableStream({
      async pull(controller) {
        const chunk = await response.next();
        if (chunk === undefined) {
          started.settle();
          controller.close();
        } else controller.enqueue(encoder.encode(chunk));
      },
      cancel() {
        started.settle(response);
      },
    });
    return new Response(stream, init);
  }

  /**
   * Starts a request with `signal` wired to its cancel. `settle(response)` when the caller
   * is done with it: a stream left unread is cancelled and read to its end in the
   * background, so the engine frees it.
   */
  #start(op, payload, signal) {
    let cancelled = false;
    let cancelStarted = () => {};
    const cancel = () => {
      cancelled = true;
      cancelStarted();
    };
    const response = this.#ready().then(() => {
      const started = this.#transport.request(op, payload);
      cancelStarted = started.cancel;
      if (cancelled) cancelStarted();
      return started.response;
    });
    if (signal?.aborted) cancel();
    else signal?.addEventListener('abort', cancel, { once: true });
    let settled = false;
    const settle = (unread) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', cancel);
      if (unread?.next) {
        cancel();
        drain(unread);
      }
    };
    return { response, settle };
  }

  dispose() {
    this.#transport.dispose();
  }
}

/** Reads a stream to its end, ignoring what it says. */
async function drain(response) {
  try {
    while ((await response.next()) !== undefined);
  } catch {
    // The stream failed: there is nothing left to free.
  }
}

/** The envelopes of an event stream (`data: {...}\n\n` ... `data: [DONE]\n\n`). */
async function* envelopes(response) {
  let buffered = '';
  for (let chunk = await response.next(); chunk !== undefined; chunk = await response.next()) {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = event.startsWith('data: ') ? event.slice(6) : event;
      if (data !== '[DONE]') yield JSON.parse(data);
    }
  }
}

/** The engine in this thread. */
class InlineTransport {
  #engine;

  async load(baseUrl, options, onProgress) {
    const { CoreEngine } = await import('./core.js');
    // A lost device is this thread's news until the engine loads onto a new one.
    delete globalThis.hearthDeviceLost;
    this.#engine = await CoreEngine.load(baseUrl, { ...options, onProgress });
    return this.#engine.info;
  }

  /** Why the WebGPU device was lost, once it was (the module says so on this thread). */
  get lost() {
    return this.#engine?.info.device === 'webgpu' ? globalThis.hearthDeviceLost : undefined;
  }

  /** `{response, cancel}`, as CoreEngine.request gives them. */
  request(op, payload) {
    if (!this.#engine) return { response: Promise.reject(new Error('the engine was disposed')), cancel() {} };
    return this.#engine.request(op, payload);
  }

  abort() {
    this.#engine?.abort();
  }

  dispose() {
    this.#engine?.dispose();
    this.#engine = undefined;
  }
}

/** The engine in a Web Worker (engine-worker.js), spoken to by messages. */
class WorkerTransport {
  #worker = new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' });
  #pending = new Map();
  #next = 0;
  /** Why the worker's WebGPU device was lost, once it was. */
  lost;

  constructor() {
    this.#worker.onmessage = ({ data }) => {
      if (data.type === 'fatal') this.#failAll(new Error(data.message));
      else if (data.type === 'lost') this.lost = data.message;
      else this.#pending.get(data.id)?.(data);
    };
    this.#worker.onerror = (event) => this.#failAll(new Error(event.message || 'the engine worker failed'));
  }

  #failAll(error) {
    for (const handler of this.#pending.values()) handler({ type: 'error', message: error.message });
    this.#pending.clear();
  }

  /** Sends `{op, ...payload}`; `onMessage` hears every reply until it unregisters. */
  #send(op, payload, onMessage) {
    return this.#sendWithId(op, payload, onMessage)[1];
  }

  /** [`#send`], returning the message's id too. */
  #sendWithId(op, payload, onMessage) {
    const id = this.#next++;
    this.#pending.set(id, onMessage);
    this.#worker.postMessage({ id, op, ...payload });
    return [id, () => this.#pending.delete(id)];
  }

  load(baseUrl, options, onProgress) {
    return new Promise((resolve, reject) => {
      const done = this.#send('load', { baseUrl, options }, (m) => {
        if (m.type === 'progress') return onProgress(m.progress);
        done();
        if (m.type === 'loaded') resolve(m.info);
        else reject(new Error(m.message));
      });
    });
  }

  /** `{response, cancel}`: the request runs in the worker; `cancel` asks it to end early. */
  request(op, payload) {
    let id;
    const response = new Promise((resolve, reject) => {
      // Chunks that arrive before they are read wait here.
      const chunks = [];
      let wake = null;
      const push = (item) => (wake ? (wake(item), (wake = null)) : chunks.push(item));
      const next = () =>
        chunks.length > 0 ? Promise.resolve(chunks.shift()) : new Promise((r) => (wake = r));
      let done;
      [id, done] = this.#sendWithId(op, payload, (m) => {
        switch (m.type) {
          case 'head':
            if (m.text !== undefined) {
              done();
              resolve({ status: m.status, headers: m.headers, text: m.text });
            } else {
              resolve({ status: m.status, headers: m.headers, next });
            }
            break;
          case 'chunk':
            push(m.chunk);
            break;
          case 'end':
            done();
            push(undefined);
            break;
          default:
            done();
            // Before the head the request fails; mid-stream the stream ends.
            reject(new Error(m.message));
            push(undefined);
        }
      });
    });
    return { response, cancel: () => this.#worker.postMessage({ id: -1, op: 'cancel', target: id }) };
  }

  abort() {
    this.#send('abort', {}, () => {})();
  }

  dispose() {
    this.#worker.terminate();
    this.#failAll(new Error('the engine was disposed'));
  }
}
