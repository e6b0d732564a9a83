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

  constructor(transport, info) {
    this.#transport = transport;
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
    };
  }

  static async load(baseUrl, options = {}) {
    const { worker = true, onProgress = () => {}, ...rest } = options;
    const url = new URL(baseUrl, globalThis.location?.href).toString();
    const transport = worker ? new WorkerTransport() : new InlineTransport();
    try {
      const info = await transport.load(url, rest, onProgress);
      return new Engine(transport, info);
    } catch (error) {
      transport.dispose();
      throw error;
    }
  }

  static clearCache() {
    return clearCache();
  }

  async completionMessages(request) {
    const body = typeof request === 'string' ? request : JSON.stringify({ ...request, stream: false });
    try {
      const response = await this.#transport.request('complete', { body: encoder.encode(body) });
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
    }
  }

  async *completionMessagesStream(request) {
    const body = typeof request === 'string' ? request : JSON.stringify({ ...request, stream: true });
    let response;
    try {
      response = await this.#transport.request('complete', { body: encoder.encode(body) });
    } catch (error) {
      yield internalError(error);
      return;
    }
    if (response.text !== undefined) {
      yield JSON.parse(response.text);
      return;
    }
    yield* envelopes(response);
  }

  abort() {
    this.#transport.abort();
  }

  async handle(request) {
    const url = new URL(request.url);
    const method = request.method;
    const body = ['GET', 'HEAD'].includes(method) ? new Uint8Array(0) : new Uint8Array(await request.arrayBuffer());
    const response = await this.#transport.request('handle', {
      request: {
        method,
        path: url.pathname + url.search,
        authorization: request.headers.get('authorization') ?? undefined,
        contentType: request.headers.get('content-type') ?? undefined,
        body,
      },
    });
    const init = { status: response.status, headers: response.headers };
    if (response.text !== undefined) return new Response(response.text, init);
    const stream = new ReadableStream({
      async pull(controller) {
        const chunk = await response.next();
        if (chunk === undefined) controller.close();
        else controller.enqueue(encoder.encode(chunk));
      },
    });
    return new Response(stream, init);
  }

  dispose() {
    this.#transport.dispose();
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
    this.#engine = await CoreEngine.load(baseUrl, { ...options, onProgress });
    return this.#engine.info;
  }

  request(op, payload) {
    if (!this.#engine) return Promise.reject(new Error('the engine was disposed'));
    return op === 'handle' ? this.#engine.handle(payload.request) : this.#engine.complete(payload.body);
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

  constructor() {
    this.#worker.onmessage = ({ data }) => {
      if (data.type === 'fatal') this.#failAll(new Error(data.message));
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
    const id = this.#next++;
    this.#pending.set(id, onMessage);
    this.#worker.postMessage({ id, op, ...payload });
    return () => this.#pending.delete(id);
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

  request(op, payload) {
    return new Promise((resolve, reject) => {
      // Chunks that arrive before they are read wait here.
      const chunks = [];
      let wake = null;
      const push = (item) => (wake ? (wake(item), (wake = null)) : chunks.push(item));
      const next = () =>
        chunks.length > 0 ? Promise.resolve(chunks.shift()) : new Promise((r) => (wake = r));
      const done = this.#send(op, payload, (m) => {
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
  }

  abort() {
    this.#send('abort', {}, () => {})();
  }

  dispose() {
    this.#worker.terminate();
    this.#failAll(new Error('the engine was disposed'));
  }
}
