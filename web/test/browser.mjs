// What the browser tests start: web/dist and the test checkpoints served on 127.0.0.1, and
// Debian's Chromium driven by playwright-core, with WebGPU on SwiftShader.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

import { serveFiles, TEST_GGUFS, testModel } from '../../tests/js/servers.mjs';

export const WEB_DIR = resolve(fileURLToPath(import.meta.url), '../..');
export const DIST = join(WEB_DIR, 'dist');

const ARGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
];

/**
 * web/dist at /, each test checkpoint preset at /models/PRESET/, the test GGUFs at /ggufs/;
 * `isolated`: with the COOP/COEP headers that let the CPU path run on threads.
 */
export async function serveSite(presets, { isolated = false } = {}) {
  const mounts = Object.fromEntries(presets.map((p) => [`/models/${p}/`, testModel(p)]));
  return serveFiles({ ...mounts, '/ggufs/': TEST_GGUFS, '/': DIST }, { isolated });
}

/**
 * The site (`serveSite(presets, options)`) and Chromium, started before a test file's tests and
 * closed after them: `.site` and `.browser` of the returned object.
 */
export function siteAndBrowser(presets, options) {
  const env = {};
  before(async () => {
    env.site = await serveSite(presets, options);
    env.browser = await launch();
  });
  after(async () => {
    await env.browser?.close();
    await env.site?.close();
  });
  return env;
}

/** Chromium with a profile of its own (so the Cache API starts empty); `close()` deletes it. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'hearth-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ARGS,
    viewport: { width: 1100, height: 800 },
  });
  return {
    context,
    async page(url) {
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.errors = errors;
      if (url) await page.goto(url);
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Loads a checkpoint into `window.engine` of `page` (which must be on the site) and returns
 * what the engine says of itself.
 */
export async function loadEngine(page, modelPath, options = {}) {
  return page.evaluate(
    async ({ modelPath, options }) => {
      const { Engine } = await import('/hearth.js');
      window.engine?.dispose();
      window.engine = await Engine.load(modelPath, options);
      const e = window.engine;
      return { device: e.device, modelId: e.modelId, dtype: e.dtype, loadMs: e.loadMs, loadHeapBytes: e.loadHeapBytes, contextLength: e.contextLength };
    },
    { modelPath, options },
  );
}

/**
 * `fetch`'s signature, answered by `window.engine.handle(new Request(...))` in the page:
 * what tests/contract/runner.mjs sends its cases through.
 */
export function handleIn(page) {
  return async (url, init) => {
    // Bytes cross into the page as base64 (a JSON array of numbers is slow for 1 MiB bodies).
    const body = init.body === undefined ? undefined : Buffer.from(init.body).toString('base64');
    const answer = await page.evaluate(
      async ({ url, init, body }) => {
        if (body !== undefined) init.body = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
        const response = await window.engine.handle(new Request(url, init));
        return { status: response.status, headers: [...response.headers], text: await response.text() };
      },
      { url, init: { ...init, body: undefined }, body },
    );
    return new Response(answer.status === 204 ? null : answer.text, { status: answer.status, headers: answer.headers });
  };
}
