// Parity: at temperature 0 the browser's answers and usage equal the native server's for the
// same test model and requests, plain and streamed, on the CPU path (the CPU kernels in wasm)
// and on WebGPU (Chromium's SwiftShader adapter, hearth's kernels, no `subgroups` feature);
// and with q4 weights on WebGPU, against hearth serve running the same kernels on lavapipe.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { SERVED_ID, TEST_KEY } from '../../tests/contract/runner.mjs';
import { outcome, PARITY_REQUESTS } from '../../tests/js/parity.mjs';
import { startNative, testModel } from '../../tests/js/servers.mjs';
import { handleIn, launch, loadEngine, serveSite } from './browser.mjs';

const PRESET = 'tiny-gqa-tied';
let native;
let site;
let browser;
let page;

before(async () => {
  native = await startNative(testModel(PRESET));
  site = await serveSite([PRESET]);
  browser = await launch();
  page = await browser.page(`${site.url}/index.html`);
});

after(async () => {
  await browser?.close();
  for (const server of [site, native]) await server?.close();
});

async function answerOf(fetchLike, base, request) {
  const response = await fetchLike(`${base}/api/v1/chat/completion_messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
    body: new TextEncoder().encode(JSON.stringify({ model: SERVED_ID, ...request })),
  });
  const body = await response.text();
  assert.equal(response.status, 200, body);
  return outcome(body, request.stream);
}

/**
 * On the CPU every request plain and streamed; on SwiftShader (slow, and autotuning each new
 * shape) every request plain and the first streamed.
 */
const CASES = {
  cpu: [false, true].flatMap((stream) => PARITY_REQUESTS.map((r) => ({ ...r, stream }))),
  webgpu: [...PARITY_REQUESTS.map((r) => ({ ...r, stream: false })), { ...PARITY_REQUESTS[0], stream: true }],
};

for (const [device, requests] of Object.entries(CASES)) {
  test(`temperature 0 answers on ${device} equal hearth serve's`, async () => {
    const info = await loadEngine(page, `/models/${PRESET}/`, { device, modelId: SERVED_ID, keys: [TEST_KEY] });
    assert.equal(info.device.kind, device, info.device.reason);
    console.log(`${device}: ${info.device.reason}; loaded in ${Math.round(info.loadMs)} ms, wasm heap ${info.loadHeapBytes >> 20} MiB`);
    for (const request of requests) {
      const want = await answerOf(fetch, native.url, request);
      assert.deepEqual(await answerOf(handleIn(page), 'http://127.0.0.1', request), want, JSON.stringify(request));
    }
  });
}

test('device auto passes over a software WebGPU adapter (SwiftShader) for the CPU, and says why', async () => {
  const info = await loadEngine(page, `/models/${PRESET}/`, { device: 'auto', modelId: SERVED_ID });
  assert.equal(info.device.kind, 'cpu', info.device.reason);
  assert.match(info.device.reason, /software/);
});

test('q4 weights run on WebGPU, answering as hearth serve --backend wgpu --dtype q4', async () => {
  const quantized = await startNative(testModel(PRESET), TEST_KEY, 'q4', 'wgpu');
  try {
    const info = await loadEngine(page, `/models/${PRESET}/`, { device: 'webgpu', dtype: 'q4', modelId: SERVED_ID, keys: [TEST_KEY] });
    assert.equal(info.device.kind, 'webgpu', info.device.reason);
    assert.equal(info.dtype, 'q4');
    for (const request of PARITY_REQUESTS) {
      const want = await answerOf(fetch, quantized.url, request);
      assert.deepEqual(await answerOf(handleIn(page), 'http://127.0.0.1', request), want, JSON.stringify(request));
    }
  } finally {
    await quantized.close();
  }
});

test('WebGPU in the page itself leaves the page\'s GPUAdapter and GPUDevice untouched', async () => {
  const natives = () =>
    page.evaluate(() =>
      [GPUAdapter.prototype.requestDevice, GPUDevice.prototype.createShaderModule, navigator.gpu.requestAdapter].map((f) =>
        /\[native code\]/.test(Function.prototype.toString.call(f)),
      ),
    );
  assert.deepEqual(await natives(), [true, true, true]);
  const info = await loadEngine(page, `/models/${PRESET}/`, { device: 'webgpu', worker: false, modelId: SERVED_ID });
  assert.equal(info.device.kind, 'webgpu', info.device.reason);
  assert.deepEqual(await natives(), [true, true, true]);
});
