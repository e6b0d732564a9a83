// Parity: at temperature 0 the worker's answers and usage equal the native server's, in the
// isolate and through the upstream mode, plain and streamed.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { TEST_KEY } from '../../tests/contract/runner.mjs';
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

const REQUESTS = [
  { messages: [{ role: 'user', content: 'Who won the world series in 2020?' }], max_tokens: 24 },
  { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Écris un poème.' }], max_tokens: 16 },
  { messages: [{ role: 'user', content: 'Count.' }], max_tokens: 12, n: 2, stop: ['\n'] },
  { messages: [{ role: 'user', content: 'Penalties.' }], max_tokens: 12, presence_penalty: 1.5, frequency_penalty: 0.5 },
].map((r) => ({ ...r, temperature: 0 }));

/** The answer and usage of a plain or streamed completion. */
async function outcome(url, request) {
  const answer = await complete(url, request);
  assert.equal(answer.status, 200, answer.body);
  if (!request.stream) {
    const { result } = JSON.parse(answer.body);
    return { answer: result.answer, choices: result.choices, usage: result.usage };
  }
  const events = answer.body
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)).result);
  const text = events.filter((e) => (e.index ?? 0) === 0).map((e) => e.delta).join('');
  return { answer: text, usage: events.at(-1).usage };
}

for (const stream of [false, true]) {
  test(`temperature 0 ${stream ? 'streamed ' : ''}answers equal hearth serve's`, async () => {
    for (const request of REQUESTS) {
      const r = { ...request, stream };
      const want = await outcome(native.url, r);
      assert.deepEqual(await outcome(isolate.url, r), want, `isolate: ${JSON.stringify(r)}`);
      assert.deepEqual(await outcome(upstream.url, r), want, `upstream: ${JSON.stringify(r)}`);
    }
  });
}
