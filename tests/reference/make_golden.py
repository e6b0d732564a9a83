#!/usr/bin/env python3
"""Generate the golden reference files that hearth's tests compare against.

Independent reference: everything here is computed with Hugging Face
transformers + torch (float32, eager attention, CPU), never with hearth.

Outputs (under --out, default tests/golden):
  <model-name>.json    logits summaries (prefill + 16 KV-cached decode steps)
                       and 32 greedy ids for each test model present
                       (tiny-gqa-tied, tiny-mqa-untied: Qwen2; tiny-qwen3: Qwen3;
                       tiny-llama: Llama with llama3 RoPE scaling)
  chat_template.json   rendered text + ids for every conversation in
                       conversations.json under the qwen2 and qwen3 templates
                       ("cases"), plus the newer case lists below
  tokenize.json        plain-string encode/decode cases (Qwen tokenizer)
  tokenize_llama3_1.json  the same strings plus LLAMA_EXTRA_TOKENIZE_STRINGS with the
                       Llama 3.1 tokenizer (only when --llama-tokenizer-dir holds it), and
                       clean_up_tokenization_spaces as the tokenizer object reports it

conversations.json is an input (hand-written, checked in) and is read from --out.

Everything is read from each model directory alone: config.json (either transformers 4.x's
rope_theta/rope_scaling or 5.x's rope_parameters), the safetensors files (whether q/k/v/o
biases and Qwen3's q_norm/k_norm exist is seen from the tensors), and the tokenizer files,
whose own chat template renders that model's prompt.

<model-name>.json keys: model, safetensors_sha256, config, torch, transformers,
prompt_messages, prompt_text, prompt_ids, prefill, decode, greedy_ids, greedy_margins,
numpy_f64_max_abs_diff, greedy_text (unchanged), and added:
  prompt_template_kwargs  extra kwargs given to apply_chat_template for the prompt
                          ({} for Qwen; {"date_string": LLAMA_DATE_STRING} for Llama)
  numpy_f64_features      what the numpy cross-check found in the checkpoint (head_dim,
                          qkv_bias, o_bias, mlp_bias, qk_norm, tied, rope_type, ...)

chat_template.json keys:
  transformers, templates {"qwen2", "qwen3"}, cases   unchanged: every conversation under
      both templates with the Qwen tokenizer and no extra template kwargs.
  templates["llama3_1"]   added: the Llama 3.1 tokenizer's template (when present).
  thinking_cases          added: the qwen3 template rendered with enable_thinking=True and
      with enable_thinking=False (record["kwargs"]) for every conversation of
      conversations.json and of THINKING_CONVERSATIONS below (assistant turns carrying
      "<think>...</think>" reasoning, in history and last); Qwen tokenizer.
  llama3_1_cases          added: every conversation of conversations.json under
      templates["llama3_1"], ids from the Llama 3.1 tokenizer, kwargs
      {"date_string": LLAMA_DATE_STRING} passed explicitly (Llama 3.1's own template
      reads date_string; llama3_1_template_reads_date_string says whether this one does).
  Each added record: name, template, tokenizer ("qwen" | "llama3_1"), kwargs,
  add_generation_prompt, text, ids (or error), and messages when its conversation is not
  in conversations.json.

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
import np_decoder  # noqa: E402  (beside this script)
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_NAMES = ["tiny-gqa-tied", "tiny-mqa-untied", "tiny-qwen3", "tiny-llama"]
# Llama 3.1's chat template prints "Today Date: {date_string}" and defaults it to
# "26 Jul 2024"; it is always passed explicitly so a template default cannot drift.
LLAMA_DATE_STRING = "26 Jul 2024"
TOP_K = 100
N_DECODE = 16
N_GREEDY = 32

PROMPT_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Give me three facts about the moon, briefly. \U0001F319"},
]

# Extra conversations for the Qwen3 thinking cases (not in conversations.json, so each
# record of thinking_cases made from them carries its messages).
THINKING_CONVERSATIONS = [
    {"name": "think_history_two_turns",
     "messages": [
         {"role": "system", "content": "You are a helpful assistant."},
         {"role": "user", "content": "What is 6 * 7?"},
         {"role": "assistant", "content": "<think>\n6 * 7 = 42.\n</think>\n\n42"},
         {"role": "user", "content": "And 42 / 2?"},
         {"role": "assistant", "content": "<think>half of 42 is 21</think>21"},
         {"role": "user", "content": "Thanks. Now 21 + 1?"},
     ],
     "add_generation_prompt": True},
    {"name": "think_last_assistant_after_history",
     "messages": [
         {"role": "user", "content": "Pick a number."},
         {"role": "assistant", "content": "<think>any will do</think>7"},
         {"role": "user", "content": "Double it."},
         {"role": "assistant", "content": "<think>\n7 * 2 = 14\n</think>\n\n14"},
     ],
     "add_generation_prompt": False},
    {"name": "think_empty_reasoning_in_history",
     "messages": [
         {"role": "user", "content": "Hi."},
         {"role": "assistant", "content": "<think>\n\n</think>\n\nHello!"},
         {"role": "user", "content": "How are you?"},
     ],
     "add_generation_prompt": True},
    {"name": "think_multiline_reasoning_newlines",
     "messages": [
         {"role": "user", "content": "List two primes."},
         {"role": "assistant",
          "content": "<think>\n\nstep 1: 2 is prime\n\nstep 2: 3 is prime\n\n</think>\n\n\n2 and 3"},
         {"role": "user", "content": "One more?"},
     ],
     "add_generation_prompt": True},
    {"name": "think_open_tag_only",
     "messages": [
         {"role": "user", "content": "Start thinking."},
         {"role": "assistant", "content": "<think>I never closed this"},
         {"role": "user", "content": "Go on."},
     ],
     "add_generation_prompt": True},
    {"name": "think_tags_in_user_message",
     "messages": [
         {"role": "user", "content": "Echo this: <think>not reasoning</think> done"},
     ],
     "add_generation_prompt": True},
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


# Added to TOKENIZE_STRINGS for tokenize_llama3_1.json only: spaces before punctuation and
# before English contractions, which decode() changes when clean_up_tokenization_spaces
# applies (Llama 3.1's tokenizer_config.json sets it true; transformers 4.x honours it,
# 5.x ignores it for BPE tokenizers), so this case's "decoded" depends on the release.
LLAMA_EXTRA_TOKENIZE_STRINGS = [
    "Wait , what ? Yes ! I 'm sure it 's fine . Don 't , won 't , they 're , we 've .",
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


def render(tok, messages, add_generation_prompt, chat_template=None, **template_kwargs):
    kw = dict(template_kwargs)
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
    for fn in np_decoder.weight_files(model_dir):
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


def read_config(model_dir):
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        return json.load(f)


def template_kwargs_for(config):
    """Extra apply_chat_template kwargs for a model's own prompt."""
    if config.get("model_type") == "llama":
        return {"date_string": LLAMA_DATE_STRING}
    return {}


def read_chat_template(tok_dir):
    """The chat template a tokenizer directory ships: tokenizer_config.json's
    chat_template, or chat_template.jinja (as transformers >= 4.4x's save_pretrained writes)."""
    with open(os.path.join(tok_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        tmpl = json.load(f).get("chat_template")
    jinja = os.path.join(tok_dir, "chat_template.jinja")
    if tmpl is None and os.path.exists(jinja):
        with open(jinja, encoding="utf-8") as f:
            tmpl = f.read()
    assert isinstance(tmpl, str), f"{tok_dir}: no single chat template"
    return tmpl


@torch.no_grad()
def run_model(model_dir, name):
    model = load_model(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    tkw = template_kwargs_for(read_config(model_dir))
    _, prompt_ids = render(tok, PROMPT_MESSAGES, True, **tkw)
    prompt_text = tok.apply_chat_template(PROMPT_MESSAGES, tokenize=False,
                                          add_generation_prompt=True, **tkw)

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
    ref = np_decoder.forward(model_dir, full[0].tolist())
    feats = np_decoder.features(model_dir)
    print(f"{name}: {feats}")
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

    config = read_config(model_dir)
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
        "prompt_template_kwargs": tkw,
        "numpy_f64_features": feats,
    }


def render_case(tok, conv, tname, tmpl, tokenizer_name, kwargs, with_messages):
    rec = {"name": conv["name"], "template": tname, "tokenizer": tokenizer_name,
           "kwargs": kwargs, "add_generation_prompt": conv["add_generation_prompt"]}
    if with_messages:
        rec["messages"] = conv["messages"]
    try:
        text, ids = render(tok, conv["messages"], conv["add_generation_prompt"], tmpl, **kwargs)
    except Exception as e:  # record template failures instead of aborting
        rec["error"] = f"{type(e).__name__}: {e}"
    else:
        plain = tok(text, add_special_tokens=False).input_ids
        assert plain == ids, (conv["name"], tname, kwargs)
        rec["text"] = text
        rec["ids"] = ids
    return rec


def chat_templates(tok, qwen2_template, qwen3_template, conversations,
                   llama_tok=None, llama_template=None):
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
    out = {
        "transformers": transformers.__version__,
        "templates": {"qwen2": qwen2_template, "qwen3": qwen3_template},
        "cases": cases,
    }

    known = {c["name"] for c in conversations}
    assert not known & {c["name"] for c in THINKING_CONVERSATIONS}
    thinking = []
    for conv in conversations + THINKING_CONVERSATIONS:
        for flag in (True, False):
            thinking.append(render_case(tok, conv, "qwen3", qwen3_template, "qwen",
                                        {"enable_thinking": flag}, conv["name"] not in known))
    out["thinking_cases"] = thinking

    if llama_tok is not None:
        out["templates"]["llama3_1"] = llama_template
        out["llama3_1_template_reads_date_string"] = "date_string" in llama_template
        out["llama3_1_cases"] = [
            render_case(llama_tok, conv, "llama3_1", llama_template, "llama3_1",
                        {"date_string": LLAMA_DATE_STRING}, False)
            for conv in conversations
        ]
    return out


def tokenize_cases(tok, strings=TOKENIZE_STRINGS):
    cases = []
    for s in strings:
        ids = [int(i) for i in tok(s, add_special_tokens=False).input_ids]
        cases.append({"text": s, "ids": ids,
                      "decoded": tok.decode(ids, skip_special_tokens=True)})
    out = {"transformers": transformers.__version__, "cases": cases}
    if strings is not TOKENIZE_STRINGS:
        out["clean_up_tokenization_spaces"] = getattr(tok, "clean_up_tokenization_spaces", None)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--tokenizer-dir",
                    default=os.path.join(os.path.expanduser("~"), ".cache", "hearth", "tokenizer"))
    ap.add_argument("--llama-tokenizer-dir",
                    default=os.path.join(os.path.expanduser("~"), ".cache", "hearth",
                                         "tokenizer-llama3"),
                    help="Llama 3.1 tokenizer (scripts/fetch-tokenizer.sh); its cases are "
                         "skipped when absent")
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

    # The qwen2 template and the Qwen tokenizer come from the first Qwen2 test model.
    qwen2_models = [m for m in present
                    if read_config(os.path.join(args.models_dir, m)).get("model_type") == "qwen2"]
    if not qwen2_models:
        print("WARNING: no Qwen2 test model present: chat_template.json and tokenize.json "
              "not written", file=sys.stderr)
        return
    first = os.path.join(args.models_dir, qwen2_models[0])
    tok = AutoTokenizer.from_pretrained(first)
    ref_tok = os.path.join(args.tokenizer_dir, "tokenizer.json")
    if sha256_file(os.path.join(first, "tokenizer.json")) != sha256_file(ref_tok):
        print(f"WARNING: {first}/tokenizer.json differs from {ref_tok}", file=sys.stderr)
    qwen2_template = read_chat_template(first)
    qwen3_template = read_chat_template(args.tokenizer_dir)
    with open(os.path.join(args.out, "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)

    llama_tok = llama_template = None
    if os.path.isfile(os.path.join(args.llama_tokenizer_dir, "tokenizer.json")):
        llama_tok = AutoTokenizer.from_pretrained(args.llama_tokenizer_dir)
        llama_template = read_chat_template(args.llama_tokenizer_dir)
    else:
        print(f"WARNING: no Llama tokenizer in {args.llama_tokenizer_dir}: llama3_1_cases and "
              "tokenize_llama3_1.json not written", file=sys.stderr)

    json_dump(chat_templates(tok, qwen2_template, qwen3_template, conversations,
                             llama_tok, llama_template),
              os.path.join(args.out, "chat_template.json"))
    json_dump(tokenize_cases(tok), os.path.join(args.out, "tokenize.json"))
    if llama_tok is not None:
        json_dump(tokenize_cases(llama_tok, TOKENIZE_STRINGS + LLAMA_EXTRA_TOKENIZE_STRINGS),
                  os.path.join(args.out, "tokenize_llama3_1.json"))


if __name__ == "__main__":
    main()
