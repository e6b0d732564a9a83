// The requests every runtime's parity test sends at temperature 0, and how an answer is
// reduced to what must match the native server's: the text of answer 0 and the usage.

export const PARITY_REQUESTS = [
  { messages: [{ role: 'user', content: 'Who won the world series in 2020?' }], max_tokens: 24 },
  { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Écris un poème.' }], max_tokens: 16 },
  { messages: [{ role: 'user', content: 'Count.' }], max_tokens: 12, n: 2, stop: ['\n'] },
  { messages: [{ role: 'user', content: 'Penalties.' }], max_tokens: 12, presence_penalty: 1.5, frequency_penalty: 0.5 },
].map((r) => ({ ...r, temperature: 0 }));

/**
 * `{answer, choices?, usage}` of a plain or streamed completion_messages body. The usage's
 * `cached_tokens` is left out: it tells what the server had in its prompt cache, which differs
 * between runtimes and between runs, while the answer does not.
 */
export function outcome(body, stream) {
  const usageOf = ({ cached_tokens: _, ...usage }) => usage;
  if (!stream) {
    const { result } = JSON.parse(body);
    return { answer: result.answer, choices: result.choices, usage: usageOf(result.usage) };
  }
  const events = body
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)).result);
  const text = events.filter((e) => (e.index ?? 0) === 0).map((e) => e.delta).join('');
  return { answer: text, usage: usageOf(events.at(-1).usage) };
}
