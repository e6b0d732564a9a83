"""The `openai` Python library, unchanged, against hearth's /v1/chat/completions.

Usage: python openai_client.py BASE_URL API_KEY MODEL
Exits non-zero on the first failed check; prints one JSON line of what it saw.
"""

import json
import sys

import openai

base_url, api_key, model = sys.argv[1:4]
client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=120)
messages = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Name three colours."},
]

# Not streamed.
plain = client.chat.completions.create(
    model=model, messages=messages, max_tokens=16, temperature=0, seed=7
)
assert plain.object == "chat.completion", plain
assert plain.model.endswith(model), plain.model
assert len(plain.choices) == 1
choice = plain.choices[0]
assert choice.index == 0 and choice.message.role == "assistant", choice
assert choice.finish_reason in ("stop", "length"), choice.finish_reason
assert isinstance(choice.message.content, str) and choice.message.content, choice
usage = plain.usage
assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

# Streamed, with usage in the last chunk: the deltas add up to the same answer.
text, finish, streamed_usage, chunks = "", None, None, 0
stream = client.chat.completions.create(
    model=model,
    messages=messages,
    max_tokens=16,
    temperature=0,
    seed=7,
    stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    chunks += 1
    assert chunk.object == "chat.completion.chunk", chunk
    assert chunk.id == chunk.id.strip() and chunk.id
    if chunk.choices:
        delta = chunk.choices[0].delta
        text += delta.content or ""
        finish = chunk.choices[0].finish_reason or finish
    if chunk.usage is not None:
        streamed_usage = chunk.usage
assert text == choice.message.content, (text, choice.message.content)
assert finish == choice.finish_reason, finish
assert streamed_usage is not None and streamed_usage.completion_tokens == usage.completion_tokens

# n > 1 gives indexed choices.
two = client.chat.completions.create(
    model=model, messages=messages, max_tokens=8, temperature=0.9, seed=3, n=2
)
assert [c.index for c in two.choices] == [0, 1], two.choices

# Errors arrive as the library's own exception types.
def raises(kind, call):
    try:
        call()
    except kind as e:
        return e.status_code
    raise AssertionError(f"expected {kind.__name__}")

wrong_key = openai.OpenAI(base_url=f"{base_url}/v1", api_key="wrong", max_retries=0)
statuses = {
    "wrong_key": raises(
        openai.AuthenticationError,
        lambda: wrong_key.chat.completions.create(model=model, messages=messages),
    ),
    "unknown_model": raises(
        openai.NotFoundError,
        lambda: client.chat.completions.create(model="no-such-model", messages=messages),
    ),
    "bad_temperature": raises(
        openai.BadRequestError,
        lambda: client.chat.completions.create(model=model, messages=messages, temperature=5),
    ),
}
assert statuses == {"wrong_key": 401, "unknown_model": 404, "bad_temperature": 400}, statuses

print(json.dumps({
    "answer": choice.message.content,
    "finish_reason": choice.finish_reason,
    "usage": usage.model_dump(),
    "stream_chunks": chunks,
    "errors": statuses,
    "openai": openai.__version__,
}))
