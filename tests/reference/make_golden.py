#!/usr/bin/env python3
"""Generate the golden reference files that hearth's tests compare against.

Independent reference: everything here is computed with Hugging Face
transformers + torch (float32, eager attention, CPU), never with hearth.

Outputs (under --out, default tests/golden):
  <model-name>.json    logits summaries (prefill + 16 KV-cached decode steps)
                       and 32 greedy ids for each test model present
  chat_template.json   rendered text + ids for every conversation in
                       conversations.json under the qwen2 and qwen3 templates
  tokenize.json        plain-string encode/decode cases

conversations.json is an input (hand-written, checked in) and is read from --out.

Conventions, so the consumer knows exactly what is compared:
  * a logits "row" is the float32 logits vector of one position;
    top_ids/top_logits are its 100 largest entries by value descending, ties
    broken by the lower token id (stable sort); mean/max/l2 are computed in
    float64 over the whole float32 row.
  * argmax ties resolve to the first (lowest) index.
  * decode[i].input_id is the argmax of the previous row (prefill for i=0);
    decode[i].logits is the row produced by feeding it with the KV cache.
  * greedy_ids[k] is the k-th generated token (greedy_ids[0] = argmax(prefill));
    no EOS stopping. greedy_margins[k] = top1 - top2 logit of the row that
    produced greedy_ids[k] (a tiny margin means a fragile argmax). greedy_ids[:16] == [d.input_id for d in decode] and
    greedy_ids[16] == argmax(decode[15].logits).
"""

import argparse
import hashlib
import inspect
import json
import os
import sys

import numpy as np
import torch
import transformers
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import np_qwen2  # noqa: E402  (beside this script)
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_NAMES = ["tiny-gqa-tied", "tiny-mqa-untied"]
TOP_K = 100
N_DECODE = 16
N_GREEDY = 32

PROMPT_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Give me three facts about the moon, briefly. \U0001F319"},
]

TOKENIZE_STRINGS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "",
    " ",
    "   leading and trailing spaces   ",
    "line one\nline two\n\n\nline five\r\nwindows\ttab",
    "你好，世界！这是一个测试。",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 문장입니다.",
    "Café naïve façade Ångström Straße œuvre",
    "مرحبا بالعالم",
    "שלום עולם",
    "e\u0301 vs \u00e9, n\u0303, a\u0308\u0304, Z\u0351\u0307a\u0300l\u0336g\u0314o\u0352",
    "\u0915\u094d\u0937\u093f \u0e01\u0e33 \u1100\u1161\u11a8",
    "👨‍👩‍👧‍👦 🇯🇵 👍🏽 🏳️‍🌈 1️⃣ 🌙 🤖",
    "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
    "<think>reasoning</think>answer",
    "x = [1, 2, 3]; print(sum(x)) # 12345678901234567890",
    "https://example.com/path?q=a%20b&lang=zh-CN#frag",
    "ünïcödé 😀 mixed 中文 and English, 123.45e-6!!!",
    "\u00a0non-breaking\u2009thin\u200bzero-width\ufeffbom",
]


def json_dump(obj, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    size = os.path.getsize(path)
    print(f"wrote {path} ({size} bytes)")
    if size > 200_000:
        print(f"WARNING: {path} is larger than 200 KB", file=sys.stderr)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def flat_ids(result):
    """apply_chat_template(tokenize=True) returns list[int] in transformers 4.x
    but may return a BatchEncoding/dict (or a batched list) in newer versions."""
    if hasattr(result, "keys") and "input_ids" in result:
        result = result["input_ids"]
    if isinstance(result, torch.Tensor):
        result = result.tolist()
    result = list(result)
    if len(result) == 1 and isinstance(result[0], (list, tuple)):
        result = list(result[0])
    if result and isinstance(result[0], (list, tuple)):
        raise TypeError(f"unexpected nested ids: {type(result)}")
    return [int(i) for i in result]


def render(tok, messages, add_generation_prompt, chat_template=None):
    kw = {}
    if chat_template is not None:
        kw["chat_template"] = chat_template
    text = tok.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt, **kw
    )
    ids = tok.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=add_generation_prompt, **kw
    )
    return text, flat_ids(ids)


def argmax_first(row):
    # np.argmax returns the first occurrence of the maximum.
    return int(np.argmax(row))


def summarize(row):
    row = np.asarray(row, dtype=np.float32)
    order = np.argsort(-row, kind="stable")[:TOP_K]
    r64 = row.astype(np.float64)
    return {
        "top_ids": [int(i) for i in order],
        "top_logits": [float(row[i]) for i in order],
        "mean": float(r64.mean()),
        "max": float(r64.max()),
        "l2": float(np.sqrt(np.sum(r64 * r64))),
    }


# transformers 5.x renamed the forward kwarg/output `past_key_values` to `cache`
# (the old name is deprecated, slated for removal in 5.40); support both.
_CACHE_KW = None


def cache_kw(model):
    global _CACHE_KW
    if _CACHE_KW is None:
        params = inspect.signature(type(model).forward).parameters
        _CACHE_KW = "cache" if "cache" in params else "past_key_values"
    return _CACHE_KW


def step(model, ids, cache=None):
    kw = {"use_cache": True}
    if cache is not None:
        kw[cache_kw(model)] = cache
    out = model(input_ids=torch.tensor([ids], dtype=torch.long), **kw)
    new_cache = out["cache"] if "cache" in out else out["past_key_values"]
    assert new_cache is not None
    return out, new_cache


def last_row(out):
    return out.logits[0, -1].detach().to(torch.float32).cpu().numpy().copy()


def load_model(model_dir):
    kw = {"attn_implementation": "eager"}
    major = int(transformers.__version__.split(".")[0])
    minor = int(transformers.__version__.split(".")[1])
    # `torch_dtype` was renamed to `dtype` in transformers 4.56.
    if (major, minor) >= (4, 56):
        kw["dtype"] = torch.float32
    else:
        kw["torch_dtype"] = torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, **kw)
    model = model.to(torch.float32).eval()
    for n, p in model.named_parameters():
        assert p.dtype == torch.float32, (n, p.dtype)
    check_weights(model, model_dir)
    return model


def check_weights(model, model_dir):
    """Every tensor on disk must be loaded verbatim (after upcast to f32), and
    nothing may be left randomly initialised (except a tied lm_head)."""
    on_disk = {}
    for fn in np_qwen2.weight_files(model_dir):
        on_disk.update(load_file(os.path.join(model_dir, fn)))
    sd = model.state_dict()
    for k, v in on_disk.items():
        assert k in sd, f"{k} on disk but not in model"
        assert torch.equal(sd[k], v.to(torch.float32)), f"{k} differs after load"
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    for k in sd:
        if k not in on_disk:
            assert k == "lm_head.weight" and tied, f"{k} not in checkpoint"
    if tied:
        assert torch.equal(sd["lm_head.weight"], sd["model.embed_tokens.weight"])


@torch.no_grad()
def run_model(model_dir, name):
    model = load_model(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    _, prompt_ids = render(tok, PROMPT_MESSAGES, True)
    prompt_text = tok.apply_chat_template(PROMPT_MESSAGES, tokenize=False, add_generation_prompt=True)

    # Prefill + 16 KV-cached decode steps.
    out, past = step(model, prompt_ids)
    prefill = last_row(out)
    rows = [prefill]
    decode = []
    nxt = argmax_first(prefill)
    for _ in range(N_DECODE):
        out, past = step(model, [nxt], past)
        row = last_row(out)
        decode.append({"input_id": nxt, "logits": summarize(row)})
        rows.append(row)
        nxt = argmax_first(row)

    # Independent greedy loop (fresh cache), no EOS stopping.
    out, past = step(model, prompt_ids)
    greedy = []
    margins = []
    for _ in range(N_GREEDY):
        row = last_row(out)
        t = argmax_first(row)
        top2 = np.sort(row)[-2:]
        greedy.append(t)
        margins.append(float(top2[1]) - float(top2[0]))
        out, past = step(model, [t], past)
    expected = [d["input_id"] for d in decode] + [argmax_first(rows[-1])]
    assert greedy[: N_DECODE + 1] == expected, (greedy, expected)

    # Cross-check the KV-cache path against one full forward without cache.
    full = torch.tensor([prompt_ids + [d["input_id"] for d in decode]])
    logits_full = model(input_ids=full, use_cache=False).logits[0].to(torch.float32).numpy()
    n = len(prompt_ids)
    for i, row in enumerate(rows):
        diff = float(np.max(np.abs(logits_full[n - 1 + i] - row)))
        assert diff < 1e-3, (name, i, diff)

    # Cross-check transformers against an independent float64 numpy forward.
    ref = np_qwen2.forward(model_dir, full[0].tolist())
    np_diff = float(np.max(np.abs(ref[n - 1 :] - logits_full[n - 1 :].astype(np.float64))))
    np_scale = float(np.max(np.abs(ref[n - 1 :])))
    print(f"{name}: max |transformers f32 - numpy f64| = {np_diff:.3g} (max |logit| {np_scale:.3g})")
    assert np_diff < 1e-4 * max(1.0, np_scale), (name, np_diff, np_scale)
    for i, row in enumerate(rows):
        r = ref[n - 1 + i]
        if argmax_first(r) != argmax_first(row):
            top2 = np.sort(r)[-2:]
            # Only a genuine near-tie (within float32 noise) may flip the argmax.
            assert top2[1] - top2[0] < 10 * np_diff, (name, i, top2)
            print(f"WARNING: {name} step {i}: f32/f64 argmax differ on a near-tie "
                  f"(margin {top2[1] - top2[0]:.3g})", file=sys.stderr)

    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    st = os.path.join(model_dir, "model.safetensors")
    if not os.path.exists(st):
        st = os.path.join(model_dir, "model.safetensors.index.json")
    return {
        "model": name,
        "safetensors_sha256": sha256_file(st),
        "config": config,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "prompt_messages": PROMPT_MESSAGES,
        "prompt_text": prompt_text,
        "prompt_ids": prompt_ids,
        "prefill": summarize(prefill),
        "decode": decode,
        "greedy_ids": greedy,
        "greedy_margins": margins,
        "numpy_f64_max_abs_diff": np_diff,
        "greedy_text": tok.decode(greedy, skip_special_tokens=False),
    }


def chat_templates(tok, qwen2_template, qwen3_template, conversations):
    cases = []
    for conv in conversations:
        for tname, tmpl in (("qwen2", qwen2_template), ("qwen3", qwen3_template)):
            rec = {"name": conv["name"], "template": tname,
                   "add_generation_prompt": conv["add_generation_prompt"]}
            try:
                text, ids = render(tok, conv["messages"], conv["add_generation_prompt"], tmpl)
            except Exception as e:  # record template failures instead of aborting
                rec["error"] = f"{type(e).__name__}: {e}"
            else:
                plain = tok(text, add_special_tokens=False).input_ids
                assert plain == ids, (conv["name"], tname)
                rec["text"] = text
                rec["ids"] = ids
            cases.append(rec)
    return {
        "transformers": transformers.__version__,
        "templates": {"qwen2": qwen2_template, "qwen3": qwen3_template},
        "cases": cases,
    }


def tokenize_cases(tok):
    cases = []
    for s in TOKENIZE_STRINGS:
        ids = [int(i) for i in tok(s, add_special_tokens=False).input_ids]
        cases.append({"text": s, "ids": ids,
                      "decoded": tok.decode(ids, skip_special_tokens=True)})
    return {"transformers": transformers.__version__, "cases": cases}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--tokenizer-dir",
                    default=os.path.join(os.path.expanduser("~"), ".cache", "hearth", "tokenizer"))
    ap.add_argument("--models", nargs="*", default=MODEL_NAMES,
                    help="model directory names to look for under --models-dir")
    ap.add_argument("--skip-models", action="store_true",
                    help="only regenerate chat_template.json and tokenize.json")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    present = [m for m in args.models if os.path.isdir(os.path.join(args.models_dir, m))]
    if not present:
        sys.exit(f"error: none of {args.models} found under {args.models_dir}")
    os.makedirs(args.out, exist_ok=True)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}; models: {present}")

    if not args.skip_models:
        for name in present:
            res = run_model(os.path.join(args.models_dir, name), name)
            json_dump(res, os.path.join(args.out, f"{name}.json"))

    first = os.path.join(args.models_dir, present[0])
    tok = AutoTokenizer.from_pretrained(first)
    ref_tok = os.path.join(args.tokenizer_dir, "tokenizer.json")
    if sha256_file(os.path.join(first, "tokenizer.json")) != sha256_file(ref_tok):
        print(f"WARNING: {first}/tokenizer.json differs from {ref_tok}", file=sys.stderr)
    with open(os.path.join(first, "tokenizer_config.json"), encoding="utf-8") as f:
        qwen2_template = json.load(f)["chat_template"]
    with open(os.path.join(args.tokenizer_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        qwen3_template = json.load(f)["chat_template"]
    with open(os.path.join(args.out, "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)

    json_dump(chat_templates(tok, qwen2_template, qwen3_template, conversations),
              os.path.join(args.out, "chat_template.json"))
    json_dump(tokenize_cases(tok), os.path.join(args.out, "tokenize.json"))


if __name__ == "__main__":
    main()
