// The in-isolate mode: the tiny test model served by a local HTTP server (MODEL_URL) or an
// R2 binding, loaded once per isolate, answering every contract case.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { loadCases, runCases } from '../../tests/contract/runner.mjs';
import { bundleSize, complete, fetchFresh, serveFiles, serveWith, startWorker, TEST_GGUFS, testModel } from './support.mjs';

const model = testModel('tiny-gqa-tied');
let files;
let worker;

before(async () => {
  files = await serveFiles(model);
  worker = await startWorker({ MODEL_URL: files.url });
});

after(async () => {
  await worker?.close();
  await files?.close();
});

const hello = (i) => ({ messages: [{ role: 'user', content: `Say hello ${i}.` }], max_tokens: 4, temperature: 0 });

test('a health probe and a refused request answer without loading the model', async () => {
  const health = await fetch(`${worker.url}/healthz`);
  assert.equal(health.status, 200);
  const refused = await fetch(`${worker.url}/api/v1/models`);
  assert.equal(refused.status, 401);
  assert.equal(files.count('GET', '/config.json'), 0);
});

test('20 concurrent first requests load the model once', async () => {
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => complete(worker.url, hello(i))));
  for (const a of answers) assert.equal(a.status, 200, a.body);
  for (const file of ['/config.json', '/tokenizer.json', '/model.safetensors']) {
    assert.equal(files.count('GET', file), 1, `GET ${file}`);
  }
  assert.equal(files.count('HEAD', '/model.safetensors'), 1);
  const ms = answers.map((a) => a.ms);
  console.log(`isolate: 20 concurrent first requests: ${Math.round(Math.min(...ms))}-${Math.round(Math.max(...ms))} ms`);
});

test('every contract case in the isolate', async () => {
  const cases = await loadCases();
  const { passed, failed } = await runCases(fetchFresh, cases, { base: worker.url });
  console.log(`isolate: ${passed} of ${cases.length} contract cases passed`);
  assert.deepEqual(failed, []);
  assert.equal(passed, cases.length);
});

// The other families' test models answer every case too (Llama in q8, as an isolate would
// hold its 128256-row vocabulary).
for (const [preset, vars] of [['tiny-qwen3', {}], ['tiny-llama', { DTYPE: 'q8' }]]) {
  test(`every contract case in the isolate on ${preset}`, async () => {
    const served = await serveFiles(testModel(preset));
    const other = await startWorker({ MODEL_URL: served.url, ...vars });
    try {
      const cases = await loadCases();
      const { passed, failed } = await runCases(fetchFresh, cases, { base: other.url });
      console.log(`isolate on ${preset}: ${passed} of ${cases.length} contract cases passed`);
      assert.deepEqual(failed, []);
    } finally {
      await other.close();
      await served.close();
    }
  });
}

test('a GGUF file at MODEL_URL answers every contract case', async () => {
  const served = await serveFiles(TEST_GGUFS);
  const other = await startWorker({ MODEL_URL: `${served.url}/tiny-qwen3-Q8_0.gguf` });
  try {
    const cases = await loadCases();
    const { passed, failed } = await runCases(fetchFresh, cases, { base: other.url });
    console.log(`isolate on tiny-qwen3-Q8_0.gguf: ${passed} of ${cases.length} contract cases passed`);
    assert.deepEqual(failed, []);
    assert.equal(served.count('GET', '/tiny-qwen3-Q8_0.gguf'), 1);
  } finally {
    await other.close();
    await served.close();
  }
});

test('weights from an R2 bucket binding', async () => {
  const r2 = await startWorker({ MODEL_PREFIX: 'tiny' }, { r2Buckets: ['MODEL_BUCKET'] });
  try {
    const bucket = await r2.mf.getR2Bucket('MODEL_BUCKET');
    for (const name of await readdir(model)) {
      // A plain ArrayBuffer: Miniflare's proxy refuses Node's pooled Buffer views.
      const bytes = await readFile(join(model, name));
      await bucket.put(`tiny/${name}`, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    }
    const viaR2 = await complete(r2.url, hello(0));
    const viaUrl = await complete(worker.url, hello(0));
    assert.equal(viaR2.status, 200, viaR2.body);
    assert.equal(JSON.parse(viaR2.body).result.answer, JSON.parse(viaUrl.body).result.answer);
  } finally {
    await r2.close();
  }
});

test('a checkpoint that cannot fit in 128 MB is refused before its weights are fetched', async () => {
  // Qwen2-0.5B's config and the size of its bf16 weights; no weight byte is ever served.
  const config = {
    model_type: 'qwen2', vocab_size: 151936, hidden_size: 896, intermediate_size: 4864,
    num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2,
    max_position_embeddings: 32768, rope_theta: 1e6, rms_norm_eps: 1e-6, tie_word_embeddings: true,
  };
  const sizes = { '/model.safetensors': 988_097_824, '/tokenizer.json': 11_422_654 };
  let weightGets = 0;
  const big = await serveWith((req, res) => {
    if (req.url === '/config.json') res.writeHead(200).end(JSON.stringify(config));
    else if (req.method === 'HEAD' && req.url in sizes) {
      res.writeHead(200, { 'content-length': sizes[req.url] }).end();
    } else {
      if (req.url === '/model.safetensors') weightGets += 1;
      res.writeHead(404).end();
    }
  });
  const refusing = await startWorker({ MODEL_URL: big.url });
  try {
    const answer = await complete(refusing.url, hello(0));
    assert.equal(answer.status, 500, answer.body);
    const { code, message } = JSON.parse(answer.body);
    assert.equal(code, 50000);
    assert.match(message, /does not fit in the isolate: it needs about \d+ MiB/);
    assert.match(message, /limit is 128 MiB/);
    assert.equal(weightGets, 0);
    console.log(`isolate: 0.5B refused: ${message}`);
  } finally {
    await refusing.close();
    await big.close();
  }
});

const MIB = 1 << 20;

test("the bundle fits Cloudflare's 10 MB compressed limit for a worker", async () => {
  const { gzip } = await bundleSize();
  assert.ok(gzip < 10 * MIB, `${gzip} bytes gzipped`);
});

test("the tiny test model's peak wasm memory stays under the isolate's 128 MiB", async () => {
  const measured = await startWorker({ MODEL_URL: files.url, REPORT_MEMORY: 'true' });
  try {
    const answer = await complete(measured.url, { ...hello(0), max_tokens: 16 });
    assert.equal(answer.status, 200, answer.body);
    const memory = Number(answer.headers.get('x-hearth-wasm-memory'));
    assert.ok(memory > 0 && memory < 128 * MIB, `peak wasm memory ${memory} bytes`);
  } finally {
    await measured.close();
  }
});

test('a shard index naming a file outside the checkpoint directory is refused, nothing fetched', async () => {
  const config = await readFile(join(model, 'config.json'));
  const index = { weight_map: { 'model.embed_tokens.weight': '../secret.safetensors' } };
  const asked = [];
  const origin = await serveWith((req, res) => {
    asked.push(req.url);
    if (req.url === '/config.json') res.writeHead(200).end(config);
    else if (req.url === '/model.safetensors.index.json') res.writeHead(200).end(JSON.stringify(index));
    else res.writeHead(404).end();
  });
  const refusing = await startWorker({ MODEL_URL: origin.url });
  try {
    const answer = await complete(refusing.url, hello(0));
    assert.equal(answer.status, 500, answer.body);
    const { code, message } = JSON.parse(answer.body);
    assert.equal(code, 50000);
    assert.match(message, /model\.safetensors\.index\.json: .*"\.\.\/secret\.safetensors" is not a file name/);
    assert.ok(!asked.some((url) => url.includes('secret')), asked.join(' '));
  } finally {
    await refusing.close();
    await origin.close();
  }
});

test('a streamed answer leaves the isolate token by token', async () => {
  const response = await fetchFresh(`${worker.url}/api/v1/chat/completion_messages`, {
    method: 'POST',
    headers: { authorization: 'Bearer test-key', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny-gqa-tied', messages: [{ role: 'user', content: 'Tell a story.' }], max_tokens: 64, temperature: 0.8, seed: 1, stream: true }),
  });
  assert.equal(response.status, 200);
  // When each piece of the body arrives: all at once would mean nothing streamed.
  const arrivals = [];
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    arrivals.push(performance.now());
    text += decoder.decode(chunk, { stream: true });
  }
  assert.match(text, /data: \[DONE\]\n\n$/);
  const spread = arrivals.at(-1) - arrivals[0];
  console.log(`isolate: streamed 64 tokens in ${arrivals.length} reads over ${Math.round(spread)} ms`);
  assert.ok(arrivals.length >= 16, `${arrivals.length} reads`);
  assert.ok(spread > 100, `the first and last pieces arrived ${spread} ms apart`);
});

test('an origin that closes every connection (Python http.server) still loads: dropped fetches are retried', async () => {
  const origin = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', model], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const port = await new Promise((ok, fail) => {
      let out = '';
      origin.stdout.on('data', (d) => {
        out += d;
        const found = / port (\d+)/.exec(out);
        if (found) ok(found[1]);
      });
      origin.on('exit', () => fail(new Error(`http.server exited: ${out}`)));
    });
    const other = await startWorker({ MODEL_URL: `http://127.0.0.1:${port}` });
    try {
      const answer = await complete(other.url, hello(0));
      assert.equal(answer.status, 200, answer.body);
    } finally {
      await other.close();
    }
  } finally {
    origin.kill();
  }
});
