// The chat page in Chromium: it loads a test model by URL, streams an answer into the page,
// the stop button ends an answer, a reload loads the weights from the Cache API (no second
// download: the server counts the requests), and a screenshot is saved after an answer.
// Then what a chat page is expected to do: Markdown rendered safely, Enter and Shift+Enter,
// tokens/s and time to first token under each answer, the conversation kept across reloads
// until "New chat", the model picker, and a layout without horizontal overflow at 1280 and
// 390 px (docs/screenshots/ gets a screenshot of each).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { test } from 'node:test';

import { testModel } from '../../tests/js/servers.mjs';
import { siteAndBrowser, WEB_DIR } from './browser.mjs';

const PRESET = 'tiny-gqa-tied';
const WEIGHTS = `/models/${PRESET}/model.safetensors`;
export const SCREENSHOT = join(WEB_DIR, 'test-output/chat.png');
const SCREENSHOTS = join(WEB_DIR, '../docs/screenshots');
const env = siteAndBrowser([PRESET]);
let page;

const pageUrl = () => `${env.site.url}/index.html?model=/models/${PRESET}/&device=cpu&autoload=1`;

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

/** Waits until the page holds `count` finished answers. */
async function answered(page, count) {
  await page.waitForFunction(
    (count) => {
      const answers = document.querySelectorAll('.message.assistant');
      return answers.length === count && answers[count - 1].dataset.finishReason;
    },
    count,
    { timeout: 120_000 },
  );
}

/** Every message in the page as "role: text", footers included. */
const transcript = (page) =>
  page.$$eval('#messages .message', (els) => els.map((el) => `${el.dataset.role}: ${el.textContent}`));

test('the page loads the model, shows the device, and streams an answer', async () => {
  page = await env.browser.page(pageUrl());
  await ready(page);
  assert.match(await page.textContent('#device-info'), /cpu/i);
  assert.equal(env.site.count('GET', WEIGHTS), 1);

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
  const gets = env.site.count('GET', WEIGHTS);
  const heads = env.site.count('HEAD', WEIGHTS);
  await page.reload();
  await ready(page);
  assert.equal(env.site.count('GET', WEIGHTS), gets, 'the weights were downloaded again');
  assert.equal(env.site.count('HEAD', WEIGHTS), heads + 1, 'the cached copy was checked against the server');
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
    const opened = await env.browser.page(printed);
    await ready(opened);
    assert.deepEqual(opened.errors, []);
    await opened.close();
  } finally {
    server.kill();
  }
});

test('model text renders as Markdown, and HTML in it is shown as text, never run', async () => {
  const rendered = await page.evaluate(async () => {
    const el = document.createElement('div');
    document.body.append(el);
    window.hearthChat.renderMarkdown(
      el,
      [
        '**bold** and `inline code`',
        '```js\nlet x = 1;\n```',
        '<script>window.pwned = "script"</script>',
        'an image: <img src=x onerror="window.pwned = \'img\'"> and ![alt](x onerror=alert(1))',
        '[a link](javascript:window.pwned="link")',
      ].join('\n\n'),
    );
    // An onerror handler or a script would have run by now.
    await new Promise((r) => setTimeout(r, 300));
    const partial = document.createElement('div');
    window.hearthChat.renderMarkdown(partial, 'Here:\n```py\nprint(1)'); // an answer mid-stream
    const found = {
      code: el.querySelector('pre > code')?.textContent,
      lang: el.querySelector('pre > code')?.className,
      copy: el.querySelectorAll('.code-block > .copy-code').length,
      strong: el.querySelector('strong')?.textContent,
      inline: el.querySelector('p > code')?.textContent,
      elements: [...el.querySelectorAll('script, img, iframe, style')].length,
      handlers: [...el.querySelectorAll('*')].flatMap((n) => [...n.attributes].filter((a) => a.name.startsWith('on'))).length,
      hrefs: [...el.querySelectorAll('a')].map((a) => a.getAttribute('href')),
      text: el.textContent,
      partial: partial.querySelector('pre > code')?.textContent,
      pwned: window.pwned,
    };
    el.remove();
    return found;
  });
  assert.equal(rendered.code, 'let x = 1;\n');
  assert.equal(rendered.lang, 'language-js');
  assert.equal(rendered.copy, 1, 'the code block has a copy button');
  assert.equal(rendered.strong, 'bold');
  assert.equal(rendered.inline, 'inline code');
  assert.equal(rendered.elements, 0, 'no script, img, iframe or style element');
  assert.equal(rendered.handlers, 0, 'no on* attribute');
  assert.ok(rendered.hrefs.every((h) => h === null || !/^\s*javascript:/i.test(h)), `hrefs: ${rendered.hrefs}`);
  assert.match(rendered.text, /<script>window\.pwned = "script"<\/script>/, 'the script is shown as text');
  assert.match(rendered.text, /<img src=x onerror=/, 'the img tag is shown as text');
  assert.equal(rendered.partial, 'print(1)\n', 'an unclosed fence is a code block already');
  assert.equal(rendered.pwned, undefined);
  assert.deepEqual(page.errors, []);
});

test('Enter sends, Shift+Enter adds a line', async () => {
  const answers = await page.locator('.message.assistant').count();
  await page.fill('#max-tokens', '6');
  await page.fill('#prompt', '');
  await page.focus('#prompt');
  await page.keyboard.type('first line');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('second line');
  assert.equal(await page.inputValue('#prompt'), 'first line\nsecond line');
  assert.equal(await page.locator('.message.assistant').count(), answers, 'Shift+Enter sent the message');
  await page.keyboard.press('Enter');
  await answered(page, answers + 1);
  assert.equal(await page.locator('.message.user .content').last().textContent(), 'first line\nsecond line');
  assert.equal(await page.inputValue('#prompt'), '');
});

test('tokens/s and time to first token appear under a finished answer', async () => {
  const meta = page.locator('.message.assistant').last().locator('.meta');
  const text = await meta.textContent();
  assert.match(text, /\b\d+ tokens? · \d+\.\d tok\/s · first token \d+\.\d\d s · /);
  const tokensPerSecond = Number(await meta.getAttribute('data-tokens-per-second'));
  const ttftMs = Number(await meta.getAttribute('data-ttft-ms'));
  assert.ok(tokensPerSecond > 0, `tokens/s ${tokensPerSecond}`);
  assert.ok(ttftMs >= 0 && ttftMs < 120_000, `time to first token ${ttftMs} ms`);
});

/** Unfolds the system prompt's box, as a person clicking its summary does. */
async function openSystemBox(page) {
  if (!(await page.$eval('.system-box', (box) => box.open))) await page.click('.system-box summary');
}

test('the conversation, system prompt and settings survive a reload', async () => {
  await openSystemBox(page);
  await page.fill('#system', 'You are terse.');
  await page.fill('#max-tokens', '5');
  await send(page, 'Remember me.', 5);
  const count = await page.locator('.message.assistant').count();
  await answered(page, count);
  const before = await transcript(page);
  assert.ok(before.includes('user: Remember me.'));

  await page.reload();
  assert.deepEqual(await transcript(page), before, 'the messages are back before the model loads');
  await ready(page);
  assert.equal(await page.inputValue('#system'), 'You are terse.');
  assert.equal(await page.inputValue('#max-tokens'), '5');
  assert.equal(await page.locator('.message.assistant').last().getAttribute('data-finish-reason'), 'length');
  await openSystemBox(page);
  await page.fill('#system', '');
});

test('New chat clears the conversation, also for the next reload', async () => {
  assert.ok((await transcript(page)).length > 0);
  await page.click('#new-chat');
  assert.deepEqual(await transcript(page), []);
  await page.reload();
  await ready(page);
  assert.deepEqual(await transcript(page), []);
  await send(page, 'A fresh start.', 4);
  await answered(page, 1);
  assert.deepEqual(page.errors, []);
});

test('the model picker: listed checkpoints, and Custom URL for any other', async () => {
  // ?model= with a URL not in the list: Custom, with the URL field showing it.
  assert.equal(await page.inputValue('#model-choice'), 'custom');
  assert.equal(await page.isVisible('#model-url'), true);
  assert.equal(await page.inputValue('#model-url'), `/models/${PRESET}/`);
  const qwen3 = 'https://huggingface.co/Qwen/Qwen3-0.6B/resolve/main/';
  await page.selectOption('#model-choice', qwen3);
  assert.equal(await page.isVisible('#model-url'), false);
  assert.equal(await page.inputValue('#model-url'), qwen3);
  await page.selectOption('#model-choice', 'custom');
  assert.equal(await page.isVisible('#model-url'), true);
  await page.fill('#model-url', `/models/${PRESET}/`);
  const labels = await page.$$eval('#model-choice option', (os) => os.map((o) => o.textContent));
  assert.deepEqual(labels, ['Qwen2.5-0.5B-Instruct', 'Qwen2.5-1.5B-Instruct', 'Qwen3-0.6B', 'Custom URL…']);

  // ?model= with a listed URL selects it (nothing is loaded without autoload).
  const other = await env.browser.page(`${env.site.url}/index.html?model=${qwen3}`);
  assert.equal(await other.inputValue('#model-choice'), qwen3);
  assert.equal(await other.isVisible('#model-url'), false);
  assert.deepEqual(other.errors, []);
  await other.close();
});

/** A stored turn with the Markdown an answer usually has, for the screenshots. */
const SAMPLE = [
  { role: 'user', content: 'How do I reverse a list in Python?' },
  {
    role: 'assistant',
    content: [
      'Use **slicing** or the `reversed()` built-in:',
      '',
      '```python',
      'items = [1, 2, 3]',
      'print(items[::-1])            # a new list: [3, 2, 1]',
      'items.reverse()               # in place; a long comment to show that code scrolls inside its block',
      '```',
      '',
      '- `items[::-1]` copies the list',
      '- `items.reverse()` changes it and returns `None`',
    ].join('\n'),
    finishReason: 'stop',
    stats: { tokens: 61, tokensPerSecond: 24.3, ttftMs: 180, promptTokens: 31, totalMs: 2650 },
  },
];

for (const [width, height] of [[1280, 800], [390, 844]]) {
  test(`at ${width} px wide nothing overflows sideways (screenshot in docs/screenshots/)`, async () => {
    await page.click('#new-chat');
    await page.evaluate((messages) => {
      const state = JSON.parse(localStorage.getItem('hearth-chat'));
      localStorage.setItem('hearth-chat', JSON.stringify({ ...state, messages }));
    }, SAMPLE);
    await page.setViewportSize({ width, height });
    await page.reload();
    await ready(page);
    await send(page, 'Thanks! And in JavaScript?', 24);
    await answered(page, 2);

    const geometry = await page.evaluate(() => {
      const width = window.innerWidth;
      // Code blocks and tables scroll sideways inside themselves, by design.
      const beyond = [...document.querySelectorAll('body *')]
        .filter((el) => !el.closest('pre, table') && el.getBoundingClientRect().right > width + 0.5)
        .map((el) => el.id || el.className || el.tagName);
      const messages = document.getElementById('messages');
      return {
        scrollWidth: document.documentElement.scrollWidth,
        width,
        beyond,
        messagesScroll: messages.scrollWidth - messages.clientWidth,
        prompt: document.getElementById('prompt').getBoundingClientRect().width,
        column: document.querySelector('.page').clientWidth,
      };
    });
    assert.ok(geometry.scrollWidth <= geometry.width, `page ${geometry.scrollWidth} px wide in ${geometry.width}`);
    assert.deepEqual(geometry.beyond, [], 'elements past the right edge');
    assert.ok(geometry.messagesScroll <= 0, 'the conversation scrolls sideways');
    // The page is one centred column (the whole width on a phone); the box takes most of it.
    assert.ok(geometry.prompt >= geometry.column * 0.8, `the message box is ${geometry.prompt} px wide in ${geometry.column}`);
    if (width < 500) assert.ok(geometry.column >= width * 0.95, `the column is ${geometry.column} px wide in ${width}`);

    mkdirSync(SCREENSHOTS, { recursive: true });
    const file = join(SCREENSHOTS, `chat-${width}.png`);
    await page.screenshot({ path: file });
    console.log(`screenshot: ${file}`);
    assert.deepEqual(page.errors, []);
  });
}
