// Threads on the CPU path: on a cross-origin isolated page (web/serve.mjs's COOP/COEP
// headers) the engine's Web Worker runs the threaded build, its kernels split over a pool of
// workers, and answers exactly as one thread does; elsewhere it runs on one thread and
// `engine.device` says why.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { SERVED_ID } from '../../tests/contract/runner.mjs';
import { PARITY_REQUESTS } from '../../tests/js/parity.mjs';
import { launch, loadEngine, serveSite } from './browser.mjs';

const PRESET = 'tiny-gqa-tied';
let isolated;
let plain;
let browser;

before(async () => {
  isolated = await serveSite([PRESET], { isolated: true });
  plain = await serveSite([PRESET]);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const site of [isolated, plain]) await site?.close();
});

/** The answers to the parity requests, plain and streamed, of the engine in `page`. */
async function answers(page) {
  return page.evaluate(async (requests) => {
    const out = [];
    for (const request of requests) {
      const whole = await window.engine.completionMessages(request);
      let streamed = '';
      for await (const envelope of window.engine.completionMessagesStream(request)) streamed += envelope.result?.delta ?? '';
      out.push({ answer: whole.result?.answer, usage: whole.result?.usage, streamed });
    }
    return out;
  }, PARITY_REQUESTS.map((r) => ({ ...r, model: SERVED_ID })));
}

test('on an isolated page the CPU path runs on 2 threads and answers as 1 thread does', async () => {
  const page = await browser.page(`${isolated.url}/index.html`);
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'the COOP/COEP headers isolate the page');
  const one = await loadEngine(page, `/models/${PRESET}/`, { device: 'cpu', threads: 1, modelId: SERVED_ID });
  assert.equal(one.device.threads, 1, one.device.reason);
  const single = await answers(page);
  const two = await loadEngine(page, `/models/${PRESET}/`, { device: 'cpu', threads: 2, modelId: SERVED_ID });
  assert.equal(two.device.kind, 'cpu');
  assert.equal(two.device.threads, 2, two.device.reason);
  assert.match(two.device.reason, /2 threads \(cross-origin isolated\)/);
  const threaded = await answers(page);
  for (const a of single) assert.ok(a.usage?.completion_tokens > 0, JSON.stringify(a));
  assert.deepEqual(threaded, single);
  // "auto" without WebGPU takes the threads too; with it, the build with WebGPU.
  const auto = await loadEngine(page, `/models/${PRESET}/`, { device: 'auto', threads: 2 });
  assert.ok(auto.device.kind === 'webgpu' ? auto.device.threads === null : auto.device.threads === 2, JSON.stringify(auto.device));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a page that is not isolated, or an engine in the page, runs on one thread and says why', async () => {
  const page = await browser.page(`${plain.url}/index.html`);
  const info = await loadEngine(page, `/models/${PRESET}/`, { device: 'cpu', threads: 2 });
  assert.equal(info.device.threads, 1);
  assert.match(info.device.reason, /not cross-origin isolated .*Cross-Origin-Opener-Policy: same-origin/);
  await page.close();
  const inPage = await browser.page(`${isolated.url}/index.html`);
  const inline = await loadEngine(inPage, `/models/${PRESET}/`, { device: 'cpu', threads: 2, worker: false });
  assert.equal(inline.device.threads, 1);
  assert.match(inline.device.reason, /worker: false/);
  await inPage.close();
});
