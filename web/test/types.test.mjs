// The package's types (src/hearth.d.ts) checked by the TypeScript compiler on a typed
// example: the contract's request, envelopes, results, stream events and error codes.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

import { WEB_DIR } from './browser.mjs';

test('tsc --noEmit accepts the typed example and catches its mistakes', () => {
  const tsc = join(WEB_DIR, 'node_modules/typescript/bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', join(WEB_DIR, 'test/types')], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
