// The figures worker/README.md reports: bundle size, the isolate's peak wasm memory, the
// first request's latency (model load included) and decode speed. Prints them; asserts only
// that the tiny model fits the 128 MB isolate. HEARTH_MEASURE_05B=1 adds a Qwen2-0.5B-shaped
// model (about 1 GB of bf16 weights made and loaded: minutes), with the memory limit lifted.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { complete, serveFiles, startNative, startWorker, testModel, WORKER_DIR } from './support.mjs';

const MIB = 1 << 20;
const mib = (bytes) => `${(bytes / MIB).toFixed(1)} MiB`;

test('bundle size', async () => {
  const dir = join(WORKER_DIR, 'build');
  let raw = 0;
  let gzip = 0;
  for (const name of await readdir(dir, { recursive: true })) {
    if (!/\.(js|mjs|wasm)$/.test(name)) continue;
    const bytes = await readFile(join(dir, name));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  console.log(`bundle: ${mib(raw)} raw, ${mib(gzip)} gzip`);
  // Cloudflare's limit for a paid plan's compressed worker is 10 MB.
  assert.ok(gzip < 10 * MIB);
});

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

test('the tiny test model in the isolate', async () => {
  const { memory } = await measure('tiny-gqa-tied');
  assert.ok(memory < 128 * MIB, `peak wasm memory ${mib(memory)}`);
});

test('the tiny test model natively, for comparison', async () => {
  const native = await startNative(testModel('tiny-gqa-tied'));
  try {
    const short = await complete(native.url, { ...REQUEST, max_tokens: 1 });
    const long = await complete(native.url, { ...REQUEST, max_tokens: 64 });
    const tokens = JSON.parse(long.body).result.usage.completion_tokens;
    console.log(`tiny-gqa-tied natively (cpu): decode ${(((tokens - 1) * 1000) / (long.ms - short.ms)).toFixed(1)} tokens/s`);
  } finally {
    await native.close();
  }
});

test('a Qwen2-0.5B-shaped model in the isolate', { skip: process.env.HEARTH_MEASURE_05B !== '1' }, async () => {
  await measure('qwen2-0.5b', { MEMORY_LIMIT_MB: '4096', DTYPE: process.env.HEARTH_MEASURE_DTYPE ?? 'f32' }, 8);
});
