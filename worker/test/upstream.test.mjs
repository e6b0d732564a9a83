// The upstream mode in front of a real `hearth serve`, and in front of upstreams that are
// down, slow, or answer garbage.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { loadCases, runCases } from '../../tests/contract/runner.mjs';
import { complete, fetchFresh, serveWith, startNative, startWorker, testModel } from './support.mjs';

// The worker's key upstream differs from the callers' so that a forwarded caller key fails.
const UPSTREAM_KEY = 'upstream-secret';
let native;
let worker;

before(async () => {
  native = await startNative(testModel('tiny-gqa-tied'), UPSTREAM_KEY);
  worker = await startWorker({ UPSTREAM_URL: native.url, UPSTREAM_KEY });
});

after(async () => {
  await worker?.close();
  await native?.close();
});

test('every contract case through the worker in front of hearth serve', async () => {
  const cases = await loadCases();
  const { passed, failed } = await runCases(fetchFresh, cases, { base: worker.url });
  console.log(`upstream: ${passed} of ${cases.length} contract cases passed`);
  assert.deepEqual(failed, []);
  assert.equal(passed, cases.length);
});

const hello = { messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 4, temperature: 0 };

/** A worker in front of `upstreamUrl`, one request, its status and parsed body. */
async function through(upstreamUrl, { path, vars } = {}) {
  const edge = await startWorker({ UPSTREAM_URL: upstreamUrl, UPSTREAM_KEY, ...vars });
  try {
    const answer = await complete(edge.url, hello, path);
    return { status: answer.status, headers: answer.headers, body: JSON.parse(answer.body) };
  } finally {
    await edge.close();
  }
}

test('an upstream that is down gives 502/50200', async () => {
  const gone = await serveWith(() => {});
  await gone.close();
  const { status, body } = await through(gone.url);
  assert.equal(status, 502);
  assert.equal(body.code, 50200);
  assert.match(body.message, /could not be reached/);
});

test('an upstream that does not answer in time gives 504/50400', async () => {
  const slow = await serveWith(() => {});
  try {
    const { status, body } = await through(slow.url, { vars: { UPSTREAM_TIMEOUT_MS: '300' } });
    assert.equal(status, 504);
    assert.equal(body.code, 50400);
    assert.match(body.message, /within 300 ms/);
  } finally {
    await slow.close();
  }
});

test('an upstream answering garbage or failing gives 502/50200 with its status', async () => {
  const answers = [
    [200, 'text/html', '<html>not the contract</html>', /HTTP 200: the body is not JSON/],
    [500, 'text/plain', 'segfault', /HTTP 500: the body is not JSON: "segfault"/],
    [503, 'text/html', '<html>maintenance</html>', /HTTP 503: the body is not JSON/],
    [401, 'application/json', '{"code":40100,"message":"invalid API key","result":null}', /HTTP 401: .*UPSTREAM_KEY/],
  ];
  for (const [code, type, text, message] of answers) {
    const bad = await serveWith((req, res) => res.writeHead(code, { 'content-type': type }).end(text));
    try {
      const { status, body } = await through(bad.url);
      assert.equal(status, 502, `upstream ${code}`);
      assert.equal(body.code, 50200);
      assert.match(body.message, message);
    } finally {
      await bad.close();
    }
  }
});

test("an upstream that is busy (503) is relayed with its Retry-After, so clients back off", async () => {
  const envelope = '{"code":50300,"message":"the server is busy","result":null}';
  const busy = await serveWith((req, res) =>
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '7' }).end(envelope),
  );
  try {
    const { status, headers, body } = await through(busy.url);
    assert.equal(status, 503);
    assert.equal(headers.get('retry-after'), '7');
    assert.equal(body.code, 50300);
    assert.equal(body.message, 'the server is busy');
  } finally {
    await busy.close();
  }
});

test('under /v1/ the upstream failure has OpenAI error shape', async () => {
  const gone = await serveWith(() => {});
  await gone.close();
  const { status, body } = await through(gone.url, { path: '/v1/chat/completions' });
  assert.equal(status, 502);
  assert.equal(body.error.code, 'bad_gateway');
});

test('three upstreams share the requests; one stopped mid-run loses none and rests', async () => {
  const natives = [native, ...(await Promise.all([0, 1].map(() => startNative(testModel('tiny-gqa-tied'), UPSTREAM_KEY))))];
  const edge = await startWorker({ UPSTREAM_URLS: natives.map((n) => n.url).join(','), UPSTREAM_KEY });
  try {
    const ask = (i) => complete(edge.url, { ...hello, messages: [{ role: 'user', content: `Say hello ${i}.` }] });
    const first = await Promise.all(Array.from({ length: 9 }, (_, i) => ask(i)));
    // Stopped with SIGTERM: what it runs finishes; then it refuses connections.
    const stopped = natives.pop();
    await stopped.close();
    const then = await Promise.all(Array.from({ length: 9 }, (_, i) => ask(100 + i)));
    for (const answer of [...first, ...then]) assert.equal(answer.status, 200, answer.body);
    const health = await (await fetch(`${edge.url}/healthz`)).json();
    const byUrl = Object.fromEntries(health.result.upstreams.map((u) => [u.url, u]));
    assert.equal(byUrl[stopped.url].resting, true, JSON.stringify(health));
    assert.ok(byUrl[stopped.url].failures >= 1);
    for (const n of natives) assert.equal(byUrl[n.url].resting, false, JSON.stringify(health));
  } finally {
    await edge.close();
    for (const n of natives.slice(1)) await n.close();
  }
});
