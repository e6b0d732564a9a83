// The contract cases of this directory, sent through any fetch-like function and checked
// with the same rules as tests/engine/contract_cases.rs (see README.md here). Shared by the
// worker's tests (Node) and the browser package's: nothing here needs Node but loadCases.

/** The served model every case expects. */
export const SERVED_ID = 'hearth-test/tiny-gqa-tied';

/** The API key every case that passes auth sends. */
export const TEST_KEY = 'test-key';

/** Every case file of `dir` (default: this directory), parsed, in file-name order. Node only. */
export async function loadCases(dir = new URL('.', import.meta.url)) {
  const { readdir, readFile } = await import('node:fs/promises');
  const base = dir instanceof URL ? dir : new URL(`file://${dir.endsWith('/') ? dir : `${dir}/`}`);
  const names = (await readdir(base)).filter((n) => n.endsWith('.json')).sort();
  return Promise.all(names.map(async (n) => JSON.parse(await readFile(new URL(n, base), 'utf8'))));
}

/** The body bytes a case's request describes (empty when it has none). */
export function caseBody(request) {
  const encode = (text) => new TextEncoder().encode(text);
  if ('body' in request) return encode(JSON.stringify(request.body));
  if ('body_text' in request) return encode(request.body_text);
  if ('body_repeat' in request) {
    const r = request.body_repeat;
    return encode((r.prefix ?? '') + r.text.repeat(r.times) + (r.suffix ?? ''));
  }
  return new Uint8Array(0);
}

/**
 * Sends one case through `fetchLike(url, init)` (`fetch`, or a `handle(Request)` wrapped to
 * take the same arguments) and returns `{status, headers, body}` with lower-case header names.
 * The body goes as bytes so that nothing labels it with a Content-Type the case did not set.
 */
export async function sendCase(fetchLike, testCase, base = 'http://127.0.0.1') {
  const { method, path, headers = {} } = testCase.request;
  const body = caseBody(testCase.request);
  const init = { method, headers, redirect: 'manual' };
  // GET and HEAD cannot carry a body in fetch; the cases give them none.
  if (!['GET', 'HEAD'].includes(method)) init.body = body;
  const response = await fetchLike(new URL(path, base).toString(), init);
  const text = await response.text();
  const lower = [...response.headers].map(([k, v]) => [k.toLowerCase(), v]);
  return { status: response.status, headers: lower, body: text };
}

/**
 * Runs every case and checks each answer; never throws for a failing case.
 * Returns `{passed, failed: [{name, error}]}`.
 */
export async function runCases(fetchLike, cases, { base } = {}) {
  const failed = [];
  let passed = 0;
  for (const testCase of cases) {
    try {
      checkCase(testCase, await sendCase(fetchLike, testCase, base));
      passed += 1;
    } catch (error) {
      failed.push({ name: testCase.name, error: error.message });
    }
  }
  return { passed, failed };
}

class CaseError extends Error {}

function ensure(condition, name, what) {
  if (!condition) throw new CaseError(`${name}: ${what}`);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const isCount = (v) => Number.isInteger(v) && v >= 0;

/** Checks one answer `{status, headers: [[name, value]], body}` against its case; throws. */
export function checkCase(testCase, { status, headers, body }) {
  const { name, expect } = testCase;
  ensure(status === expect.status, name, `status ${status}, expected ${expect.status}; body ${body}`);
  for (const [key, want] of Object.entries(expect.headers ?? {})) {
    const got = headers.find(([k]) => k === key)?.[1];
    ensure(got !== undefined && got.includes(want), name, `header ${key} is ${got}`);
  }
  const kind = expect.result;
  if (kind === 'stream' || kind === 'openai_stream') {
    checkStream(name, expect, kind, body);
    return;
  }
  let value;
  try {
    value = JSON.parse(body);
  } catch (e) {
    throw new CaseError(`${name}: ${e.message}: ${body}`);
  }
  checkJson(name, expect, kind, value);
  if (kind === 'completion') {
    // The document's field order (a parsed object keeps it, but read the text as Rust does).
    const order = ['"result":{"id":', '"model":', '"answer":', '"usage":', '"created_at":'];
    const at = order.map((k) => body.indexOf(k));
    ensure(at.every((p) => p >= 0) && at.every((p, i) => i === 0 || at[i - 1] < p), name, `field order: ${body}`);
  }
}

function checkJson(name, expect, kind, v) {
  if ('code' in expect) ensure(v.code === expect.code, name, `code ${v.code}; body ${JSON.stringify(v)}`);
  const message = kind === 'openai_error' ? v.error?.message : v.message;
  if (typeof expect.message_contains === 'string') {
    ensure(typeof message === 'string' && message.includes(expect.message_contains), name, `message ${message}`);
  }
  switch (kind) {
    case 'null':
      ensure(v.result === null && typeof message === 'string' && message !== '', name, JSON.stringify(v));
      break;
    case 'health':
      ensure(v.result?.status === 'ok', name, JSON.stringify(v));
      break;
    case 'models':
      ensure(
        v.result.models.some((m) => m.id === SERVED_ID && m.context_length === 2048 && m.owned_by === 'hearth'),
        name,
        JSON.stringify(v),
      );
      break;
    case 'openai_error':
      for (const key of ['message', 'type', 'param', 'code']) {
        ensure(v.error && key in v.error, name, `error.${key} missing: ${JSON.stringify(v)}`);
      }
      break;
    case 'completion':
      checkCompletion(name, expect, v.result);
      break;
    case 'openai':
      checkOpenai(name, expect, v);
      break;
    default:
      throw new CaseError(`${name}: unknown result kind ${kind}`);
  }
}

function checkCompletion(name, expect, r) {
  ensure(typeof r.id === 'string' && r.id !== '', name, 'empty id');
  ensure(r.model === SERVED_ID, name, `model ${r.model}`);
  ensure(isCount(r.created_at), name, `created_at ${r.created_at}`);
  const { usage } = r;
  const [p, c] = [usage.prompt_tokens, usage.completion_tokens];
  ensure(isCount(p) && isCount(c) && p > 0 && usage.total_tokens === p + c, name, JSON.stringify(usage));
  checkCommon(name, expect, usage.finish_reason, c, r.answer);
  if (typeof expect.choices === 'number') {
    const { choices } = r;
    ensure(Array.isArray(choices) && choices.length === expect.choices, name, `choices ${JSON.stringify(choices)}`);
    ensure(choices[0].answer === r.answer, name, 'choices[0].answer is the answer');
    const sum = choices.reduce((s, ch) => s + ch.completion_tokens, 0);
    ensure(sum === c, name, 'usage counts all answers');
  } else {
    ensure(!('choices' in r), name, 'choices without n > 1');
  }
}

function checkOpenai(name, expect, v) {
  ensure(v.object === 'chat.completion', name, `object ${v.object}`);
  const { choices } = v;
  ensure(choices.length === (expect.choices ?? 1), name, `${choices.length} choices`);
  const first = choices[0];
  ensure(first.message.role === 'assistant', name, `role ${first.message.role}`);
  checkCommon(name, expect, first.finish_reason, v.usage.completion_tokens, first.message.content);
}

function checkCommon(name, expect, finishReason, completionTokens, answer) {
  if ('finish_reason' in expect) {
    ensure(finishReason === expect.finish_reason, name, `finish_reason ${finishReason}`);
  } else {
    ensure(['stop', 'length'].includes(finishReason), name, `finish_reason ${finishReason}`);
  }
  if ('completion_tokens' in expect) {
    ensure(completionTokens === expect.completion_tokens, name, `completion_tokens ${completionTokens}`);
  }
  if (expect.answer_nonempty === true) ensure(typeof answer === 'string' && answer !== '', name, 'empty answer');
}

function checkStream(name, expect, kind, body) {
  const raw = body
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e) => {
      ensure(e.startsWith('data: '), name, `not an SSE event: ${JSON.stringify(e)}`);
      return e.slice('data: '.length);
    });
  ensure(raw.at(-1) === '[DONE]', name, 'ends with [DONE]');
  const events = raw.slice(0, -1).map((e) => JSON.parse(e));
  ensure(events.length > 0, name, 'no event before [DONE]');
  const n = typeof expect.choices === 'number' ? expect.choices : undefined;
  const seen = new Set();
  let text = '';
  if (kind === 'stream') {
    for (const e of events) {
      if ('code' in expect) ensure(e.code === expect.code, name, `event code ${e.code}`);
      const r = e.result;
      ensure(same(r.id, events[0].result.id), name, 'one id');
      ensure('index' in r === (n !== undefined), name, `index iff n > 1: ${JSON.stringify(e)}`);
      const index = r.index ?? 0;
      seen.add(index);
      if (index === 0) text += r.delta;
    }
    const { usage } = events.at(-1).result;
    checkCommon(name, expect, usage.finish_reason, usage.completion_tokens, text);
  } else {
    let finish;
    for (const e of events) {
      ensure(e.object === 'chat.completion.chunk', name, `object ${e.object}`);
      for (const choice of e.choices) {
        seen.add(choice.index);
        if (choice.index === 0) {
          text += choice.delta?.content ?? '';
          if (typeof choice.finish_reason === 'string') finish = choice.finish_reason;
        }
      }
    }
    ensure(finish !== undefined, name, 'no finish chunk');
    const last = events.at(-1);
    // Without stream_options.include_usage there is no count to check.
    const expectHere = { ...expect };
    if (!('usage' in last)) delete expectHere.completion_tokens;
    checkCommon(name, expectHere, finish, last.usage?.completion_tokens ?? 0, text);
  }
  if (n !== undefined) ensure(seen.size === n, name, 'every index appears');
}
