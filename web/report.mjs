#!/usr/bin/env node
// The browser build's size and speed report: the wasm's size (raw and gzip), the time to load
// the tiny test model, and decode tokens/s on the CPU path and on WebGPU for the
// Qwen2-0.5B-shaped test model, in headless Chromium on this machine. `bash web/build.sh
// --report` runs it after building; HEARTH_WEB_REPORT_MODELS=tiny skips the 0.5B model.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { DIST, launch, loadEngine, serveSite } from './test/browser.mjs';

const TINY = 'tiny-gqa-tied';
const LARGE = 'qwen2-0.5b';
const GEN_TOKENS = Number(process.env.HEARTH_WEB_REPORT_TOKENS ?? 32);
const withLarge = (process.env.HEARTH_WEB_REPORT_MODELS ?? 'all') !== 'tiny';
const mib = (bytes) => (bytes / 1048576).toFixed(1);

const wasm = readFileSync(join(DIST, 'pkg/hearth_wasm_bg.wasm'));
console.log(`wasm: ${mib(wasm.length)} MiB raw, ${mib(gzipSync(wasm, { level: 9 }).length)} MiB gzip`);

const site = await serveSite(withLarge ? [TINY, LARGE] : [TINY]);
const browser = await launch();
const rows = [];
try {
  const page = await browser.page(`${site.url}/index.html`);
  for (const device of ['cpu', 'webgpu']) {
    const started = performance.now();
    const info = await loadEngine(page, `/models/${TINY}/`, { device, cache: false });
    rows.push({ model: TINY, device, load_ms: Math.round(performance.now() - started), ...(await decode(page)) });
  }
  if (withLarge) {
    for (const device of ['cpu', 'webgpu']) {
      const started = performance.now();
      const info = await loadEngine(page, `/models/${LARGE}/`, { device, cache: false });
      const load_ms = Math.round(performance.now() - started);
      rows.push({ model: LARGE, device, load_ms, ...(await decode(page)), note: info.device.reason });
      await page.evaluate(() => window.engine.dispose());
    }
  }
} finally {
  await browser.close();
  await site.close();
}
console.table(rows);

/** Time to first token and decode tokens/s of one greedy answer of GEN_TOKENS tokens. */
async function decode(page) {
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
  }, GEN_TOKENS);
}
