// What the JavaScript tests of every runtime start (the worker's in Miniflare, the browser
// package's in Chromium): test checkpoints, a local file server, and the native
// `hearth serve` whose answers they are compared with.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { SERVED_ID, TEST_KEY } from '../contract/runner.mjs';

export { serveFiles, serveWith } from '../../web/serve.mjs';

const CACHE = process.env.HEARTH_CACHE ?? join(homedir(), '.cache/hearth');

/** The native binary: HEARTH_BIN, else the release build in CARGO_TARGET_DIR or the shared one. */
export const HEARTH_BIN =
  process.env.HEARTH_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(CACHE, 'target'), 'release/hearth');

/** A test checkpoint directory made by `hearth make-test-model` (cached: same seed, same bytes). */
export function testModel(preset) {
  const dir = join(CACHE, 'test-models', preset);
  if (!existsSync(join(dir, 'config.json'))) {
    execFileSync(HEARTH_BIN, ['make-test-model', '--out', dir, '--preset', preset], { stdio: 'inherit' });
  }
  return dir;
}

/** The folder of test GGUF files (PRESET-TYPE.gguf) that scripts/make-test-ggufs.sh writes. */
export const TEST_GGUFS = join(CACHE, 'test-ggufs');

/** `hearth serve` on a free loopback port, on the CPU, answering with `key`. */
export async function startNative(modelDir, key = TEST_KEY, dtype = 'f32', backend = 'cpu') {
  const child = spawn(
    HEARTH_BIN,
    ['serve', '--model-dir', modelDir, '--model-id', SERVED_ID, '--backend', backend, '--dtype', dtype, '--port', '0', '--api-key', key],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1', RUST_LOG: 'info' } },
  );
  let log = '';
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`hearth serve did not start in 60 s:\n${log}`)), 60_000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const found = /serving on (http:\/\/[0-9.]+:\d+)/.exec(log);
      if (found) {
        clearTimeout(timer);
        ok(found[1]);
      }
    });
    child.on('exit', (code) => fail(new Error(`hearth serve exited with ${code}:\n${log}`)));
  });
  child.stderr.resume();
  return {
    url,
    close: () =>
      new Promise((ok) => {
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}
