#!/usr/bin/env node
// The browser build's size and speed report: the wasm's size (raw and gzip), the time to load
// the tiny test model, and decode tokens/s on the CPU path and on WebGPU for the
// Qwen2-0.5B-shaped test model, in headless Chromium on this machine. `bash web/build.sh
// --report` runs it after building. HEARTH_WEB_REPORT_MODELS=tiny|large and
// HEARTH_WEB_REPORT_DEVICES=cpu|webgpu measure only those; HEARTH_WEB_REPORT_DTYPES (default
// f32) lists the weight formats of the 0.5B runs on the CPU path (f32 f16 q8 q4).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { DIST, launch, loadEngine, serveSite } from './test/browser.mjs';

const TINY = 'tiny-gqa-tied';
const LARGE = 'qwen2-0.5b';
const GEN_TOKENS = Number(process.env.HEARTH_WEB_REPORT_TOKENS ?? 32);
// SwiftShader runs WebGPU on the CPU at a few seconds per 0.5B token: fewer there.
const GEN_TOKENS_LARGE_WEBGPU = Number(process.env.HEARTH_WEB_REPORT_TOKENS_WEBGPU ?? 8);
const models = process.env.HEARTH_WEB_REPORT_MODELS ?? 'all';
const [withTiny, withLarge] = [models !== 'large', models !== 'tiny'];
const devices = (process.env.HEARTH_WEB_REPORT_DEVICES ?? 'cpu webgpu').split(/[ ,]+/);
const dtypes = (process.env.HEARTH_WEB_REPORT_DTYPES ?? 'f32').split(/[ ,]+/);
const mib = (bytes) => (bytes / 1048576).toFixed(1);

const wasm = readFileSync(join(DIST, 'pkg/hearth_wasm_bg.wasm'));
console.log(`wasm: ${mib(wasm.length)} MiB raw, ${mib(gzipSync(wasm, { level: 9 }).length)} MiB gzip`);

const site = await serveSite([TINY, LARGE].filter((m) => (m === TINY ? withTiny : withLarge)));
const browser = await launch();
const rows = [];
/** Each measurement as it comes (a large model on SwiftShader takes minutes), then a table. */
const record = (row) => {
  rows.push(row);
  console.log(JSON.stringify(row));
};
try {
  const page = await browser.page(`${site.url}/index.html`);
  for (const device of withTiny ? devices : []) {
    const started = performance.now();
    const info = await loadEngine(page, `/models/${TINY}/`, { device, cache: false });
    const load_ms = Math.round(performance.now() - started);
    record({ model: TINY, device, load_ms, engine_load_ms: Math.round(info.loadMs), ...(await decode(page, GEN_TOKENS)) });
  }
  if (withLarge) {
    const runs = devices.flatMap((device) => (device === 'cpu' ? dtypes : ['f32']).map((dtype) => ({ device, dtype })));
    for (const { device, dtype } of runs) {
      const started = performance.now();
      const info = await loadEngine(page, `/models/${LARGE}/`, { device, dtype, cache: false });
      const load_ms = Math.round(performance.now() - started);
      const tokens = device === 'webgpu' ? GEN_TOKENS_LARGE_WEBGPU : GEN_TOKENS;
      const engine_load_ms = Math.round(info.loadMs);
      record({ model: LARGE, device, dtype, load_ms, engine_load_ms, ...(await decode(page, tokens)), note: info.device.reason });
      await page.evaluate(() => window.engine.dispose());
    }
  }
} finally {
  await browser.close();
  await site.close();
}
console.table(rows);

/** Time to first token and decode tokens/s of one greedy answer of `tokens` tokens. */
async function decode(page, tokens) {
  return page.evaluate(async (tokens) => {
    const request = {
      model: window.engine.modelId,
      messages: [{ role: 'user', content: 'Write a long story about a lighthouse keeper.' }],
      max_tokens: tokens,
      temperature: 0,
    };
    const started = performance.now();
    let first;
    let last;
    for await (const envelope of window.engine.completionMessagesStream(request)) {
      first ??= performance.now();
      last = envelope;
    }
    const usage = last.result.usage;
    const decodeS = (performance.now() - first) / 1000;
    return {
      ttft_ms: Math.round(first - started),
      tokens: usage.completion_tokens,
      decode_tok_s: Number(((usage.completion_tokens - 1) / decodeS).toFixed(1)),
    };
  }, tokens);
}
