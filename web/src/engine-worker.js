// The Web Worker that runs the engine, so that the page never freezes while the model loads
// or generates. Messages: {id, op, ...} in; {id, type, ...} out (see hearth.js).

import { CoreEngine } from './core.js';

let engine;
/** The cancel() of each request in flight, by its id. */
const cancels = new Map();

const post = (message, transfer = []) => self.postMessage(message, transfer);

// The wasm module's word that the WebGPU device is gone: the page loads the engine again.
globalThis.onhearthdevicelost = (message) => post({ id: -1, type: 'lost', message });

// A panic aborts the wasm module: every request in flight fails with its message.
self.addEventListener('error', (event) => {
  post({ id: -1, type: 'fatal', message: globalThis.hearthPanic ?? event.message });
});

self.onmessage = async ({ data }) => {
  const { id, op } = data;
  try {
    switch (op) {
      case 'load': {
        const onProgress = (progress) => post({ id, type: 'progress', progress });
        engine = await CoreEngine.load(data.baseUrl, { ...data.options, onProgress });
        post({ id, type: 'loaded', info: engine.info });
        break;
      }
      case 'abort':
        engine?.abort();
        break;
      case 'cancel':
        cancels.get(data.target)?.();
        break;
      case 'handle':
      case 'complete': {
        const started = engine.request(op, data);
        cancels.set(id, started.cancel);
        try {
          const response = await started.response;
          post({ id, type: 'head', status: response.status, headers: response.headers, text: response.text });
          if (response.next) {
            for (let chunk = await response.next(); chunk !== undefined; chunk = await response.next()) {
              post({ id, type: 'chunk', chunk });
            }
            post({ id, type: 'end' });
          }
        } finally {
          cancels.delete(id);
        }
        break;
      }
      default:
        throw new Error(`unknown op ${op}`);
    }
  } catch (error) {
    post({ id, type: 'error', message: error?.message ?? String(error) });
  }
};
