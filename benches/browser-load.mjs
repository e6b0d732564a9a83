// What loading a checkpoint in the browser holds: the wasm heap once loaded (which never
// shrinks, so the most the load held at once) against the weights files' size, the load
// time, and one short greedy answer. The default is the case: Qwen2-1.5B's shape
// (bf16 weights, 3.1 GB) as q4 on WebGPU (Chromium's SwiftShader here), which fits in a tab
// only because the files pass into wasm a tensor at a time.
//
//   node benches/browser-load.mjs [PRESET] [DTYPE] [DEVICE]   (default: qwen2-1.5b q4 webgpu)
// Needs web/dist (bash web/build.sh) and the native binary for `hearth make-test-model`.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { testModel } from '../tests/js/servers.mjs';
import { launch, loadEngine, serveSite } from '../web/test/browser.mjs';

const [preset = 'qwen2-1.5b', dtype = 'q4', device = 'webgpu'] = process.argv.slice(2);
const dir = testModel(preset);
const weights = readdirSync(dir)
  .filter((name) => name.endsWith('.safetensors'))
  .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
const site = await serveSite([preset]);
const browser = await launch();
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
try {
  const page = await browser.page(`${site.url}/index.html`);
  const info = await loadEngine(page, `/models/${preset}/`, { device, dtype, cache: false });
  const started = Date.now();
  const answer = await page.evaluate(() =>
    window.engine.completionMessages({ model: window.engine.modelId, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0 }),
  );
  if (answer.code !== 0) throw new Error(JSON.stringify(answer));
  console.log(
    `${preset} ${dtype} on ${info.device.kind} (${info.device.reason}): weights files ${mib(weights)}, ` +
      `wasm heap after load ${mib(info.loadHeapBytes)} (${((100 * info.loadHeapBytes) / weights).toFixed(0)}% of the files), ` +
      `loaded in ${(info.loadMs / 1000).toFixed(1)} s, 4 tokens answered in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
} finally {
  await browser.close();
  await site.close();
}
