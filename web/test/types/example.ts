// A typed use of the package, checked by `tsc --noEmit` (web/test/types.test.mjs): what
// compiles here compiles for users, and each `@ts-expect-error` is a mistake the types catch.

import { Engine, type CompletionRequest, type Envelope, type ErrorCode, type StreamResult } from '../../src/hearth.js';

export async function chat(baseUrl: string): Promise<string> {
  const engine = await Engine.load(baseUrl, {
    device: 'auto',
    dtype: 'q4',
    onProgress: ({ file, loaded, total, phase }) => console.log(file, phase, loaded, total),
  });
  const request: CompletionRequest = {
    model: engine.modelId,
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'Hello' }] },
    ],
    max_tokens: 64,
    temperature: 0.7,
    top_p: 0.9,
    presence_penalty: 0,
    frequency_penalty: 0,
    n: 1,
    stop: ['\n\n'],
    seed: 42,
    enable_thinking: false,
  };
  const controller = new AbortController();
  const answer = await engine.completionMessages(request, { signal: controller.signal });
  if (answer.code !== 0) return explain(answer.code, answer.message);
  const { usage, choices = [] } = answer.result;
  const reasons: ('stop' | 'length' | 'abort')[] = [usage.finish_reason, ...choices.map((c) => c.finish_reason)];

  let text = '';
  for await (const event of engine.completionMessagesStream(request, { signal: controller.signal })) {
    if (event.code !== 0) return explain(event.code, event.message);
    text += delta(event);
    if (event.result.usage) reasons.push(event.result.usage.finish_reason);
  }
  const response: Response = await engine.handle(new Request(`${baseUrl}api/v1/chat/completion_messages`));
  engine.abort();
  engine.dispose();
  return `${answer.result.answer} ${text} ${reasons.join()} ${response.status} ${engine.device.kind}`;
}

function delta(event: Envelope<StreamResult>): string {
  return event.code === 0 ? event.result.delta + (event.result.reasoning_delta ?? '') : '';
}

/** Exhaustive over the error codes: a code added to the contract must be handled here. */
function explain(code: ErrorCode, message: string): string {
  switch (code) {
    case 40000:
    case 40001:
    case 40002:
    case 40003:
      return `bad request: ${message}`;
    case 40100:
      return 'wrong key';
    case 40400:
    case 40401:
    case 40500:
      return 'wrong route';
    case 40800:
    case 41300:
    case 41500:
      return 'bad body';
    case 50000:
    case 50200:
    case 50300:
    case 50400:
      return `server: ${message}`;
    default: {
      const unhandled: never = code;
      return unhandled;
    }
  }
}

export function mistakes(engine: Engine, answer: Envelope<StreamResult>) {
  // @ts-expect-error a role the contract does not have
  const bad: CompletionRequest = { model: 'm', messages: [{ role: 'bot', content: 'hi' }] };
  // @ts-expect-error messages are required
  const missing: CompletionRequest = { model: 'm' };
  // @ts-expect-error max_tokens is a number
  const wrongType: CompletionRequest = { model: 'm', messages: [], max_tokens: '5' };
  // @ts-expect-error an error envelope has no result to read
  if (answer.code !== 0) console.log(answer.result.delta);
  // @ts-expect-error not a device hearth knows
  void Engine.load('/m/', { device: 'npu' });
  // @ts-expect-error the signal option is an AbortSignal
  void engine.completionMessages(bad, { signal: true });
  return [missing, wrongType];
}
