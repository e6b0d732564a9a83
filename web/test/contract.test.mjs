// Every contract case (tests/contract/) against the browser package in Chromium: through
// `engine.handle(Request)` with its HTTP statuses, and through `completionMessages` /
// `completionMessagesStream`, whose envelopes must be the ones the HTTP answers carry.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { caseBody, checkCase, loadCases, runCases, SERVED_ID, TEST_KEY } from '../../tests/contract/runner.mjs';
import { serveWith, testModel } from '../../tests/js/servers.mjs';
import { handleIn, launch, loadEngine, serveSite } from './browser.mjs';

const COMPLETION = '/api/v1/chat/completion_messages';
const cases = await loadCases();
let site;
let browser;
let page;

before(async () => {
  site = await serveSite(['tiny-gqa-tied', 'tiny-qwen3', 'tiny-llama']);
  browser = await launch();
  page = await browser.page(`${site.url}/index.html`);
  const info = await loadEngine(page, '/models/tiny-gqa-tied/', { device: 'cpu', modelId: SERVED_ID, keys: [TEST_KEY] });
  assert.equal(info.device.kind, 'cpu');
});

after(async () => {
  await browser?.close();
  await site?.close();
});

test('every contract case through engine.handle(Request)', async () => {
  const { passed, failed } = await runCases(handleIn(page), cases);
  assert.deepEqual(failed, []);
  assert.equal(passed, cases.length);
});

for (const model of ['/models/tiny-qwen3/', '/models/tiny-llama/', '/ggufs/tiny-llama-Q8_0.gguf']) {
  test(`every contract case through engine.handle(Request) on ${model}`, async () => {
    const other = await browser.page(`${site.url}/index.html`);
    await loadEngine(other, model, { device: 'cpu', modelId: SERVED_ID, keys: [TEST_KEY] });
    const { passed, failed } = await runCases(handleIn(other), cases);
    assert.deepEqual(failed, []);
    assert.equal(passed, cases.length);
  });
}

/**
 * The cases an in-page call can express: a completion_messages POST that passes the HTTP
 * checks (key, content type). Auth, routing and media-type cases are HTTP's alone.
 */
function inPage(testCase) {
  const { method, path, headers = {} } = testCase.request;
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return (
    method === 'POST' &&
    path === COMPLETION &&
    lower.authorization === `Bearer ${TEST_KEY}` &&
    lower['content-type'] === 'application/json' &&
    ![401, 404, 405, 415].includes(testCase.expect.status)
  );
}

test('every completion case through completionMessages and completionMessagesStream', async () => {
  const selected = cases.filter(inPage);
  assert.ok(selected.length >= 60, `${selected.length} cases`);
  const failed = [];
  for (const testCase of selected) {
    const body = new TextDecoder().decode(caseBody(testCase.request));
    const envelopes = await page.evaluate(async (body) => {
      let streamed = false;
      try {
        streamed = JSON.parse(body)?.stream === true;
      } catch {}
      if (!streamed) return [await window.engine.completionMessages(body)];
      const all = [];
      for await (const envelope of window.engine.completionMessagesStream(body)) all.push(envelope);
      return all;
    }, body);
    // The same envelopes, in the shape runner.mjs checks: one JSON body, or an event stream.
    const first = envelopes[0];
    const stream = testCase.expect.result.endsWith('stream') && first.code === 0;
    const answer = {
      status: first.code === 0 ? 200 : Math.floor(first.code / 100),
      headers: [],
      body: stream ? envelopes.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n' : JSON.stringify(first),
    };
    try {
      checkCase({ ...testCase, expect: { ...testCase.expect, headers: {} } }, answer);
    } catch (error) {
      failed.push({ name: testCase.name, error: error.message });
    }
  }
  assert.deepEqual(failed, []);
});

test('abort() ends the running answer with what it has', async () => {
  const result = await page.evaluate(async (model) => {
    const request = { model, messages: [{ role: 'user', content: 'Talk.' }], max_tokens: 400, temperature: 0 };
    const envelopes = [];
    for await (const envelope of window.engine.completionMessagesStream(request)) {
      envelopes.push(envelope);
      if (envelopes.length === 3) window.engine.abort();
    }
    return envelopes;
  }, SERVED_ID);
  const usage = result.at(-1).result.usage;
  assert.equal(usage.finish_reason, 'abort');
  assert.ok(usage.completion_tokens < 400, JSON.stringify(usage));
  assert.ok(result.every((e) => e.code === 0));
});

test('a page error never happened', () => {
  assert.deepEqual(page.errors, []);
});

// After the page-error check: the browser logs these deliberate 404s as errors.
test('a checkpoint that cannot load is refused with the file and what is wrong', async () => {
  const failure = (path, options = {}) =>
    page.evaluate(
      async ({ path, options }) => {
        const { Engine } = await import('/hearth.js');
        try {
          (await Engine.load(path, options)).dispose();
          return null;
        } catch (error) {
          return error.message;
        }
      },
      { path, options },
    );
  assert.match(await failure('/models/absent/'), /\/models\/absent\/config\.json: not found \(404\)/);
  assert.match(await failure('/models/tiny-gqa-tied/', { device: 'quantum' }), /unknown device "quantum"/);
  // hearth's kernels widen f16 in registers: SwiftShader, without shader-f16, runs it.
  assert.equal(await failure('/models/tiny-gqa-tied/', { device: 'webgpu', dtype: 'f16' }), null);
});

test('a connection dropped while a checkpoint is fetched is retried', async () => {
  const dir = testModel('tiny-gqa-tied');
  let dropped = 0;
  const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': '*' };
  const flaky = await serveWith(async (req, res) => {
    const name = req.url.split('/').pop();
    if (req.method === 'GET' && name === 'tokenizer.json' && dropped++ === 0) return req.socket.destroy();
    try {
      const bytes = await readFile(join(dir, name));
      res.writeHead(200, { ...cors, 'content-length': bytes.length });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    } catch {
      res.writeHead(404, cors).end();
    }
  });
  try {
    const loaded = await page.evaluate(async (url) => {
      const { Engine } = await import('/hearth.js');
      try {
        (await Engine.load(url, { device: 'cpu', cache: false })).dispose();
        return 'loaded';
      } catch (error) {
        return error.message;
      }
    }, `${flaky.url}/`);
    assert.equal(loaded, 'loaded');
    assert.ok(dropped >= 2, 'the dropped request was made again');
  } finally {
    await flaky.close();
  }
});
