// A lost WebGPU device (a driver reset, a tab in the background; here `device.destroy()`):
// the answer in flight ends with a 500 envelope that says so, and the next request is
// answered after the engine loads again onto a new device, its files from the Cache API.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { loadEngine, siteAndBrowser } from './browser.mjs';

const PRESET = 'tiny-gqa-tied';
const REQUEST = { model: PRESET, messages: [{ role: 'user', content: 'Tell me a long story.' }], max_tokens: 24, temperature: 0 };
const env = siteAndBrowser([PRESET]);

test('a destroyed device ends the answer with a 500 envelope, and the next one reloads from the cache', async () => {
  const { site, browser } = env;
  const page = await browser.page(`${site.url}/index.html`);
  // The engine runs in the page (worker: false), so the page can reach the devices it opens.
  await page.evaluate(() => {
    const requestDevice = GPUAdapter.prototype.requestDevice;
    window.devices = [];
    GPUAdapter.prototype.requestDevice = async function (...args) {
      const device = await requestDevice.apply(this, args);
      window.devices.push(device);
      return device;
    };
  });
  const info = await loadEngine(page, `/models/${PRESET}/`, { device: 'webgpu', worker: false });
  assert.equal(info.device.kind, 'webgpu', info.device.reason);
  const weights = `/models/${PRESET}/model.safetensors`;
  const downloads = site.count('GET', weights);
  assert.equal(downloads, 1);
  const got = await page.evaluate(async (request) => {
    const e = window.engine;
    const before = await e.completionMessages(request);
    let deltas = 0;
    let last;
    for await (const envelope of e.completionMessagesStream(request)) {
      last = envelope;
      if (envelope.result?.delta && ++deltas === 2) window.devices.at(-1).destroy();
    }
    const next = await e.completionMessages(request);
    return { before: before.result, last, next, devices: window.devices.length, device: e.device };
  }, REQUEST);
  assert.equal(got.last.code, 50000, JSON.stringify(got.last));
  assert.match(got.last.message, /GPU device was lost/);
  assert.equal(got.next.code, 0, JSON.stringify(got.next));
  assert.equal(got.next.result.answer, got.before.answer);
  assert.deepEqual(got.next.result.usage, got.before.usage);
  assert.equal(got.devices, 2, 'the reload opened a new device');
  assert.equal(got.device.kind, 'webgpu');
  assert.equal(site.count('GET', weights), downloads, 'the reload read the weights from the Cache API');
  await page.close();
});
