#!/usr/bin/env node
// The browser builds' size and speed report, in headless Chromium on this machine: each
// build's wasm size (raw and gzip); the time to load the tiny test model; decode tokens/s of
// the Qwen2-0.5B-shaped test model on the CPU path with 1 and 2 threads (a cross-origin
// isolated page, the engine in a Web Worker), beside native `hearth bench --threads 1` and
// `--threads 2` on the same model in the same run; and on WebGPU. `bash web/build.sh
// --report` runs it after building. Take it with nothing else running on the cores.
//
// HEARTH_WEB_REPORT_MODELS=tiny|large and HEARTH_WEB_REPORT_DEVICES=cpu|webgpu measure only
// those; HEARTH_WEB_REPORT_DTYPES (default q8) lists the 0.5B runs' weight formats on the CPU
// path (f32 f16 q8 q4), HEARTH_WEB_REPORT_THREADS (default "1 2") their thread counts.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { HEARTH_BIN, testModel } from '../tests/js/servers.mjs';
import { DIST, launch, loadEngine, serveSite } from './test/browser.mjs';

const TINY = 'tiny-gqa-tied';
const LARGE = 'qwen2-0.5b';
const GEN_TOKENS = Number(process.env.HEARTH_WEB_REPORT_TOKENS ?? 32);
// SwiftShader runs WebGPU on the CPU at a few seconds per 0.5B token: fewer there.
const GEN_TOKENS_LARGE_WEBGPU = Number(process.env.HEARTH_WEB_REPORT_TOKENS_WEBGPU ?? 8);
const list = (name, fallback) => (process.env[name] ?? fallback).split(/[ ,]+/).filter(Boolean);
const models = process.env.HEARTH_WEB_REPORT_MODELS ?? 'all';
const [withTiny, withLarge] = [models !== 'large', models !== 'tiny'];
const devices = list('HEARTH_WEB_REPORT_DEVICES', 'cpu webgpu');
const dtypes = list('HEARTH_WEB_REPORT_DTYPES', 'q8');
const threadCounts = list('HEARTH_WEB_REPORT_THREADS', '1 2').map(Number);
const mib = (bytes) => Number((bytes / 1048576).toFixed(1));

for (const build of ['pkg', 'pkg-threads']) {
  const wasm = readFileSync(join(DIST, build, 'hearth_wasm_bg.wasm'));
  console.log(`${build}: wasm ${mib(wasm.length)} MiB raw, ${mib(gzipSync(wasm, { level: 9 }).length)} MiB gzip`);
}

// The COOP/COEP headers, so the CPU path may run on threads.
const site = await serveSite([TINY, LARGE].filter((m) => (m === TINY ? withTiny : withLarge)), { isolated: true });
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
    const info = await loadEngine(page, `/models/${TINY}/`, { device, cache: false, threads: 1 });
    const load_ms = Math.round(performance.now() - started);
    record({ model: TINY, where: `browser ${device}`, threads: info.device.threads, load_ms, ...(await decode(page, GEN_TOKENS)) });
  }
  if (withLarge) {
    const cpuRuns = devices.includes('cpu') ? dtypes.flatMap((dtype) => threadCounts.map((threads) => ({ device: 'cpu', dtype, threads }))) : [];
    const gpuRuns = devices.includes('webgpu') ? [{ device: 'webgpu', dtype: 'f32' }] : [];
    for (const { device, dtype, threads } of [...cpuRuns, ...gpuRuns]) {
      const started = performance.now();
      const info = await loadEngine(page, `/models/${LARGE}/`, { device, dtype, threads, cache: false });
      const load_ms = Math.round(performance.now() - started);
      const tokens = device === 'webgpu' ? GEN_TOKENS_LARGE_WEBGPU : GEN_TOKENS;
      const row = { model: LARGE, where: `browser ${device}`, dtype, threads: info.device.threads, load_ms, ...(await decode(page, tokens)) };
      record({ ...row, note: info.device.reason });
      await page.evaluate(() => window.engine.dispose());
      if (device === 'cpu') record({ model: LARGE, where: 'native cpu', dtype, threads, ...nativeBench(dtype, threads) });
    }
  }
} finally {
  await browser.close();
  await site.close();
}
console.table(rows.map(({ note, ...row }) => row));
for (const dtype of withLarge && devices.includes('cpu') ? dtypes : []) {
  const of = (where, threads) => rows.find((r) => r.model === LARGE && r.where === where && r.dtype === dtype && r.threads === threads)?.decode_tok_s;
  const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : 'n/a');
  console.log(
    `${LARGE} ${dtype}: browser 2 threads / 1 thread ${ratio(of('browser cpu', 2), of('browser cpu', 1))}x ` +
      `(target 1.7x); browser / native at 2 threads ${ratio(of('browser cpu', 2), of('native cpu', 2))}x (target 0.8x)`,
  );
}

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

/** `hearth bench` on the same model, weights and threads, with a prompt as short as the page's. */
function nativeBench(dtype, threads) {
  const args = ['bench', '--model-dir', testModel(LARGE), '--backend', 'cpu', '--dtype', dtype, '--threads', String(threads)];
  args.push('--prompt-tokens', '16', '--gen-tokens', String(GEN_TOKENS), '--repeat', '3', '--json');
  const report = JSON.parse(execFileSync(HEARTH_BIN, args, { encoding: 'utf8' }).trim().split('\n').at(-1));
  return { ttft_ms: Math.round(report.ttft_ms), tokens: GEN_TOKENS, decode_tok_s: report.decode_tok_s, load_ms: Math.round(report.load_ms) };
}
