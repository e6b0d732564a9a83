// The chat page in Chromium: it loads a test model by URL, streams an answer into the page,
// the stop button ends an answer, a reload loads the weights from the Cache API (no second
// download: the server counts the requests), and a screenshot is saved after an answer.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { testModel } from '../../tests/js/servers.mjs';
import { launch, serveSite, WEB_DIR } from './browser.mjs';

const PRESET = 'tiny-gqa-tied';
const WEIGHTS = `/models/${PRESET}/model.safetensors`;
export const SCREENSHOT = join(WEB_DIR, 'test-output/chat.png');
let site;
let browser;
let page;

before(async () => {
  site = await serveSite([PRESET]);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

const pageUrl = () => `${site.url}/index.html?model=/models/${PRESET}/&device=cpu&autoload=1`;

async function ready(page) {
  await page.waitForFunction(() => document.querySelector('#status')?.textContent.includes('ready'), null, {
    timeout: 120_000,
  });
}

/** Sends `prompt` and returns the last assistant element's handle. */
async function send(page, prompt, maxTokens) {
  await page.fill('#max-tokens', String(maxTokens));
  await page.fill('#temperature', '0');
  await page.fill('#prompt', prompt);
  await page.click('#send');
  return page.locator('.message.assistant').last();
}

test('the page loads the model, shows the device, and streams an answer', async () => {
  page = await browser.page(pageUrl());
  await ready(page);
  assert.match(await page.textContent('#device-info'), /cpu/i);
  assert.equal(site.count('GET', WEIGHTS), 1);

  const answer = await send(page, 'Tell me about the moon.', 48);
  // Streaming: the text is seen growing before the answer has finished.
  const seen = await page.evaluate(async () => {
    const lengths = new Set();
    const el = () => [...document.querySelectorAll('.message.assistant')].at(-1);
    while (!el()?.dataset.finishReason) {
      lengths.add(el()?.textContent.length ?? 0);
      await new Promise((r) => setTimeout(r, 5));
    }
    return { lengths: lengths.size, finish: el().dataset.finishReason };
  });
  assert.ok(seen.lengths >= 3, `the answer appeared in ${seen.lengths} steps`);
  assert.equal(seen.finish, 'length');
  assert.ok((await answer.textContent()).length > 0);
  mkdirSync(join(WEB_DIR, 'test-output'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  console.log(`screenshot: ${SCREENSHOT}`);
});

test('the stop button ends an answer early', async () => {
  const answer = await send(page, 'Keep talking for a long time.', 1500);
  await page.waitForFunction(() => [...document.querySelectorAll('.message.assistant .content')].at(-1)?.textContent.length > 20);
  assert.equal(await page.isEnabled('#stop'), true);
  await page.click('#stop');
  await page.waitForFunction(() => [...document.querySelectorAll('.message.assistant')].at(-1)?.dataset.finishReason);
  assert.equal(await answer.getAttribute('data-finish-reason'), 'abort');
  assert.equal(await page.isEnabled('#send'), true);
});

test('a reload loads the model from the cache, not the network', async () => {
  const gets = site.count('GET', WEIGHTS);
  const heads = site.count('HEAD', WEIGHTS);
  await page.reload();
  await ready(page);
  assert.equal(site.count('GET', WEIGHTS), gets, 'the weights were downloaded again');
  assert.equal(site.count('HEAD', WEIGHTS), heads + 1, 'the cached copy was checked against the server');
  await send(page, 'Hello again.', 8);
  await page.waitForFunction(() => [...document.querySelectorAll('.message.assistant')].at(-1)?.dataset.finishReason);
  assert.deepEqual(page.errors, []);
});

test('the model URL web/serve.mjs prints opens the chat page and loads the model', async () => {
  const server = spawn(process.execPath, [join(WEB_DIR, 'serve.mjs'), '--port', '0', '--model-dir', testModel(PRESET)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let printed;
    for await (const line of createInterface({ input: server.stdout })) {
      printed = line.match(/^model: (\S+)$/)?.[1];
      if (printed) break;
    }
    assert.ok(printed, 'serve.mjs printed a model URL');
    const opened = await browser.page(printed);
    await ready(opened);
    assert.deepEqual(opened.errors, []);
    await opened.close();
  } finally {
    server.kill();
  }
});
