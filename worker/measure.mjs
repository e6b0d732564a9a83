// The figures worker/README.md reports, printed: bundle size, the isolate's peak wasm memory,
// the first request's latency (model load included) and decode speed, beside the native
// server's decode. `node worker/measure.mjs` after `bash worker/build.sh`, on a quiet machine;
// HEARTH_MEASURE_05B=1 adds a Qwen2-0.5B-shaped model (about 1 GB of bf16 weights made and
// loaded: minutes), with the memory limit lifted. The limits themselves are tests
// (isolate.test.mjs).

import assert from 'node:assert/strict';

import { bundleSize, complete, serveFiles, startNative, startWorker, testModel } from './test/support.mjs';

const MIB = 1 << 20;
const mib = (bytes) => `${(bytes / MIB).toFixed(1)} MiB`;

const { raw, gzip } = await bundleSize();
console.log(`bundle: ${mib(raw)} raw, ${mib(gzip)} gzip`);

const REQUEST = { messages: [{ role: 'user', content: 'Tell me a long story.' }], temperature: 0 };

/** First-request latency, decode speed and peak wasm memory of `preset` in the isolate. */
async function measure(preset, vars = {}, maxTokens = 64) {
  const files = await serveFiles(testModel(preset));
  const worker = await startWorker({ MODEL_URL: files.url, REPORT_MEMORY: 'true', ...vars });
  try {
    const first = await complete(worker.url, { ...REQUEST, max_tokens: 1 });
    assert.equal(first.status, 200, first.body);
    const short = await complete(worker.url, { ...REQUEST, max_tokens: 1 });
    const long = await complete(worker.url, { ...REQUEST, max_tokens: maxTokens });
    assert.equal(long.status, 200, long.body);
    const tokens = JSON.parse(long.body).result.usage.completion_tokens;
    // The one-token request is prefill plus one step: what remains is decoding.
    const perSecond = ((tokens - 1) * 1000) / (long.ms - short.ms);
    const memory = Number(long.headers.get('x-hearth-wasm-memory'));
    console.log(
      `${preset} in the isolate${vars.DTYPE ? ` (${vars.DTYPE})` : ''}: first request ${Math.round(first.ms)} ms ` +
        `(load included), then ${Math.round(short.ms)} ms for 1 token; decode ${perSecond.toFixed(1)} tokens/s ` +
        `over ${tokens} tokens; peak wasm memory ${mib(memory)}`,
    );
    return { memory, perSecond };
  } finally {
    await worker.close();
    await files.close();
  }
}

const { perSecond } = await measure('tiny-gqa-tied');
const native = await startNative(testModel('tiny-gqa-tied'));
try {
  const short = await complete(native.url, { ...REQUEST, max_tokens: 1 });
  const long = await complete(native.url, { ...REQUEST, max_tokens: 64 });
  const tokens = JSON.parse(long.body).result.usage.completion_tokens;
  const nativePerSecond = ((tokens - 1) * 1000) / (long.ms - short.ms);
  console.log(
    `tiny-gqa-tied natively (cpu): decode ${nativePerSecond.toFixed(1)} tokens/s; the isolate decodes at ` +
      `${(perSecond / nativePerSecond).toFixed(2)}x native`,
  );
} finally {
  await native.close();
}
if (process.env.HEARTH_MEASURE_05B === '1') {
  await measure('qwen2-0.5b', { MEMORY_LIMIT_MB: '4096', DTYPE: process.env.HEARTH_MEASURE_DTYPE ?? 'f32' }, 8);
}
