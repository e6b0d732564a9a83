// Parity: at temperature 0 the worker's answers and usage equal the native server's, in the
// isolate and through the upstream mode, plain and streamed; and with weights quantized at
// load (DTYPE=q8, q4) in the isolate, equal to `hearth serve --dtype` with the same.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { TEST_KEY } from '../../tests/contract/runner.mjs';
import { outcome, PARITY_REQUESTS } from '../../tests/js/parity.mjs';
import { complete, serveFiles, startNative, startWorker, testModel } from './support.mjs';

const model = testModel('tiny-gqa-tied');
let native;
let files;
let isolate;
let upstream;

before(async () => {
  native = await startNative(model);
  files = await serveFiles(model);
  isolate = await startWorker({ MODEL_URL: files.url });
  upstream = await startWorker({ UPSTREAM_URL: native.url, UPSTREAM_KEY: TEST_KEY });
});

after(async () => {
  for (const server of [isolate, upstream, files, native]) await server?.close();
});

/** The answer and usage of a plain or streamed completion. */
async function answerOf(url, request) {
  const answer = await complete(url, request);
  assert.equal(answer.status, 200, answer.body);
  return outcome(answer.body, request.stream);
}

for (const stream of [false, true]) {
  test(`temperature 0 ${stream ? 'streamed ' : ''}answers equal hearth serve's`, async () => {
    for (const request of PARITY_REQUESTS) {
      const r = { ...request, stream };
      const want = await answerOf(native.url, r);
      assert.deepEqual(await answerOf(isolate.url, r), want, `isolate: ${JSON.stringify(r)}`);
      assert.deepEqual(await answerOf(upstream.url, r), want, `upstream: ${JSON.stringify(r)}`);
    }
  });
}

for (const dtype of ['q8', 'q4']) {
  test(`temperature 0 answers with ${dtype} weights equal hearth serve --dtype ${dtype}'s`, async () => {
    const quantizedNative = await startNative(model, TEST_KEY, dtype);
    const quantizedIsolate = await startWorker({ MODEL_URL: files.url, DTYPE: dtype });
    try {
      for (const request of PARITY_REQUESTS) {
        const want = await answerOf(quantizedNative.url, request);
        assert.deepEqual(await answerOf(quantizedIsolate.url, request), want, JSON.stringify(request));
      }
    } finally {
      await quantizedIsolate.close();
      await quantizedNative.close();
    }
  });
}
