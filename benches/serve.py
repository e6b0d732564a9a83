#!/usr/bin/env python3
"""Streaming clients against a running server that speaks OpenAI's /v1/chat/completions
(hearth serve, or llama.cpp's llama-server as the peer).

  serve.py URL [--key KEY] [--clients 1,2,4,8] [--tokens 64] [--label NAME] [--chat-turns 5]

For each client count, that many clients at once each stream one answer of --tokens tokens
(temperature 0, every prompt different, so no client finds another's prompt cached); prints
the aggregate completion tokens/s, time to first token and inter-token time (p50/p99). Then a
chat of --chat-turns turns after a ~400-token system prompt: each turn's time to first token,
each turn sending the whole conversation so far. One JSON line per figure set on stdout.
"""
import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse

SYSTEM = " ".join(
    f"Rule {i}: answer briefly, politely and only about the question that was asked."
    for i in range(28)
)


def stream(url, key, messages, tokens):
    """One streamed answer: (time to first token, [inter-token gaps], completion tokens, text)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = json.dumps({
        "model": "bench", "messages": messages, "max_tokens": tokens, "temperature": 0,
        "stream": True, "stream_options": {"include_usage": True},
        # llama-server stops at end-of-turn only when asked; both ignore unknown fields.
        "ignore_eos": True,
    })
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    started = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, headers)
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read()[:200]!r}")
    first, last, gaps, text, usage = None, None, [], [], None
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if event.get("usage"):
            usage = event["usage"]
        for choice in event.get("choices", []):
            piece = choice.get("delta", {}).get("content")
            if not piece:
                continue
            now = time.perf_counter()
            if first is None:
                first = now - started
            else:
                gaps.append(now - last)
            last = now
            text.append(piece)
    conn.close()
    completion = usage["completion_tokens"] if usage else len(text)
    return first, gaps, completion, "".join(text)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round((len(values) - 1) * p))] if values else float("nan")


def clients(url, key, n, tokens, round_):
    results = [None] * n

    def run(i):
        messages = [{"role": "user", "content": f"Client {round_}-{i}: tell me a long story about the number {i * 7919 + round_}."}]
        results[i] = stream(url, key, messages, tokens)

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ttft = [r[0] for r in results]
    gaps = [g for r in results for g in r[1]]
    total = sum(r[2] for r in results)
    return {"clients": n, "tok_s": total / wall, "ttft_p50_ms": pct(ttft, 0.5) * 1e3,
            "ttft_p99_ms": pct(ttft, 0.99) * 1e3, "itl_p50_ms": pct(gaps, 0.5) * 1e3,
            "itl_p99_ms": pct(gaps, 0.99) * 1e3}


def chat(url, key, turns, tokens):
    messages = [{"role": "system", "content": SYSTEM}]
    firsts = []
    for turn in range(turns):
        messages.append({"role": "user", "content": f"Question {turn + 1}: what comes after {turn * 3}?"})
        first, _, _, text = stream(url, key, messages, tokens)
        firsts.append(first * 1e3)
        messages.append({"role": "assistant", "content": text})
    return {"chat_ttft_ms": firsts}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--key")
    parser.add_argument("--clients", default="1,2,4,8")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--chat-turns", type=int, default=5)
    parser.add_argument("--label", default="hearth")
    args = parser.parse_args()
    # A warm-up answer, so the first figure does not pay for first-use costs.
    stream(args.url, args.key, [{"role": "user", "content": "Warm up."}], 8)
    for i, n in enumerate(int(c) for c in args.clients.split(",")):
        row = clients(args.url, args.key, n, args.tokens, i)
        print(json.dumps({"label": args.label, **row}), flush=True)
    if args.chat_turns:
        print(json.dumps({"label": args.label, **chat(args.url, args.key, args.chat_turns, 16)}), flush=True)


if __name__ == "__main__":
    main()
