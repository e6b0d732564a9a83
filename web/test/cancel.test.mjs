// Per-request cancel on the CPU path, in a Web Worker and in the page: an AbortSignal ends
// its own answer (finish_reason "abort", with usage) and leaves the others whole; leaving a
// stream's loop, or cancelling engine.handle's Response body, ends that answer alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { loadEngine, siteAndBrowser } from './browser.mjs';

const PRESET = 'tiny-gqa-tied';
const env = siteAndBrowser([PRESET]);
let page;
/** One page for every test, opened by the first (the hooks above have run by then). */
const openPage = async () => (page ??= await env.browser.page(`${env.site.url}/index.html`));

const LONG = { model: PRESET, messages: [{ role: 'user', content: 'Tell me a long story.' }], max_tokens: 48, temperature: 0 };
const OTHER = { model: PRESET, messages: [{ role: 'user', content: 'Who won the world series in 2020?' }], max_tokens: 24, temperature: 0 };

for (const worker of [true, false]) {
  const where = worker ? 'in a Web Worker' : 'in the page';

  test(`an AbortSignal ends its own answer ${where}, plain or streamed`, async () => {
    await loadEngine(await openPage(), `/models/${PRESET}/`, { device: 'cpu', worker });
    const got = await page.evaluate(
      async ({ LONG, OTHER }) => {
        const e = window.engine;
        const whole = await e.completionMessages(LONG);
        // Abort the plain answer once the stream beside it has seen three deltas.
        const plain = new AbortController();
        const pending = e.completionMessages(LONG, { signal: plain.signal });
        const streamed = new AbortController();
        let deltas = 0;
        let last;
        let other = '';
        for await (const envelope of e.completionMessagesStream(LONG, { signal: streamed.signal })) {
          last = envelope;
          if (envelope.result?.delta && ++deltas === 3) {
            plain.abort();
            streamed.abort();
          }
        }
        const aborted = await pending;
        for await (const envelope of e.completionMessagesStream(OTHER)) other += envelope.result?.delta ?? '';
        const alone = await e.completionMessages(OTHER);
        return { whole: whole.result, aborted: aborted.result, last: last.result, other, alone: alone.result.answer };
      },
      { LONG, OTHER },
    );
    assert.equal(got.whole.usage.completion_tokens, LONG.max_tokens, 'the uncancelled answer runs to max_tokens');
    for (const cut of [got.aborted, got.last]) {
      assert.equal(cut.usage.finish_reason, 'abort', JSON.stringify(cut));
      assert.ok(cut.usage.completion_tokens > 0 && cut.usage.completion_tokens < LONG.max_tokens, JSON.stringify(cut.usage));
      assert.equal(cut.usage.prompt_tokens, got.whole.usage.prompt_tokens);
    }
    assert.ok(got.whole.answer.startsWith(got.aborted.answer));
    // The engine answers on, whole, afterwards.
    assert.equal(got.other, got.alone);
  });

  test(`cancelling one of two concurrent streams leaves the other whole ${where}`, async () => {
    await loadEngine(await openPage(), `/models/${PRESET}/`, { device: 'cpu', worker });
    const got = await page.evaluate(
      async ({ LONG, OTHER }) => {
        const e = window.engine;
        const alone = await e.completionMessages(OTHER);
        const read = async (stream, stopAfter = Infinity) => {
          let text = '';
          let last;
          let deltas = 0;
          for await (const envelope of stream) {
            last = envelope;
            text += envelope.result?.delta ?? '';
            if (envelope.result?.delta && ++deltas === stopAfter) break;
          }
          return { text, last: last.result };
        };
        const [left, kept] = await Promise.all([read(e.completionMessagesStream(LONG), 2), read(e.completionMessagesStream(OTHER))]);
        // engine.handle: cancelling the Response body ends that answer; its Request's signal too.
        const post = (request, signal) =>
          e.handle(
            new Request('http://local/api/v1/chat/completion_messages', {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ ...request, stream: true }),
              signal,
            }),
          );
        const body = (await post(LONG)).body.getReader();
        await body.read();
        await body.cancel();
        const controller = new AbortController();
        const signalled = await post(LONG, controller.signal);
        const reader = signalled.body.getReader();
        await reader.read();
        controller.abort();
        let text = '';
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += new TextDecoder().decode(chunk.value);
        const events = text.split('\n\n').filter((e) => e.startsWith('data: {'));
        const lastEvent = JSON.parse(events.at(-1).slice(6)).result;
        return { alone: alone.result, left, kept, lastEvent, after: (await e.completionMessages(OTHER)).result.answer };
      },
      { LONG, OTHER },
    );
    assert.equal(got.kept.text, got.alone.answer);
    assert.deepEqual(got.kept.last.usage, got.alone.usage);
    assert.equal(got.lastEvent.usage.finish_reason, 'abort');
    assert.equal(got.after, got.alone.answer);
  });
}
