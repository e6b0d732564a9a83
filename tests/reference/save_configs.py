#!/usr/bin/env python3
"""Write config.json / generation_config.json (and a re-saved tokenizer config) exactly as
the running transformers release writes them, so hearth's config parser can be tested on the
shapes each release puts on disk.

Run it once per major release (see README.md):
  /tmp/pyref/bin/python  tests/reference/save_configs.py   # -> configs/transformers-5/
  /tmp/pyref4/bin/python tests/reference/save_configs.py   # -> configs/transformers-4/

Outputs, under --out (default: tests/reference/configs/transformers-<major>/):
  <name>/config.json, <name>/generation_config.json
      built with transformers' own Qwen2Config / Qwen3Config / LlamaConfig and
      GenerationConfig, then `save_pretrained`.
  tokenizer/          the small files AutoTokenizer.save_pretrained writes for the Qwen
                      tokenizer of scripts/fetch-tokenizer.sh (tokenizer_config.json, and
                      chat_template.jinja / special_tokens_map.json where written);
  tokenizer-llama3/   the same for the Llama 3.1 tokenizer (when it has been fetched).
  tokenizer.json / vocab.json / merges.txt are large and not kept.

Each config is built with the running release's own spelling of RoPE settings
(4.x: rope_theta + rope_scaling; 5.x: rope_parameters) and of the dtype (4.x: torch_dtype;
5.x: dtype); the script then checks that the saved file reloads to the same values.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import transformers
from transformers import (AutoConfig, AutoTokenizer, GenerationConfig, LlamaConfig,
                          Qwen2Config, Qwen3Config)

MAJOR = int(transformers.__version__.split(".")[0])
HERE = os.path.dirname(os.path.abspath(__file__))
HOME = os.path.expanduser("~")

QWEN_BOS, QWEN_EOS, QWEN_PAD = 151643, 151645, 151643
LLAMA_BOS, LLAMA_EOS = 128000, [128001, 128008, 128009]

LLAMA3_SCALING = {
    "rope_type": "llama3",
    "factor": 32.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}

# name -> (config class, fields other than RoPE/dtype, rope_theta, rope_scaling or None,
#          dtype, generation-config fields)
#
# The tiny-* shapes are hearth's test shapes (tiny-qwen2 is the tiny-gqa-tied preset, whose
# sliding_window / max_window_layers are copied from tests/golden/tiny-gqa-tied.json).
#
# qwen3-0.6b, llama-3.2-1b and qwen2.5-0.5b are HAND-ENTERED from memory of the public
# config.json / generation_config.json of Qwen/Qwen3-0.6B, meta-llama/Llama-3.2-1B-Instruct
# and Qwen/Qwen2.5-0.5B-Instruct (no hub access here); they were not downloaded, so check
# them against the real files before relying on an exact value.
MODELS = {
    "tiny-qwen2": (
        Qwen2Config,
        dict(vocab_size=151936, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
             rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
             sliding_window=2048, max_window_layers=2,
             bos_token_id=QWEN_BOS, eos_token_id=QWEN_EOS),
        1e6, None, "float32",
        dict(bos_token_id=QWEN_BOS, eos_token_id=QWEN_EOS),
    ),
    "tiny-qwen3": (
        Qwen3Config,
        dict(vocab_size=151936, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, head_dim=32,
             max_position_embeddings=2048, rms_norm_eps=1e-6, tie_word_embeddings=True,
             attention_bias=False, use_sliding_window=False, max_window_layers=2,
             bos_token_id=QWEN_BOS, eos_token_id=QWEN_EOS),
        1e6, None, "float32",
        dict(bos_token_id=QWEN_BOS, eos_token_id=QWEN_EOS),
    ),
    "tiny-llama": (
        LlamaConfig,
        dict(vocab_size=128256, hidden_size=64, intermediate_size=192, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, head_dim=16,
             max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=False,
             attention_bias=False, mlp_bias=False,
             bos_token_id=LLAMA_BOS, eos_token_id=LLAMA_EOS),
        500000.0, LLAMA3_SCALING, "float32",
        dict(bos_token_id=LLAMA_BOS, eos_token_id=LLAMA_EOS),
    ),
    # Hand-entered (see above): Qwen/Qwen3-0.6B.
    "qwen3-0.6b": (
        Qwen3Config,
        dict(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
             num_attention_heads=16, num_key_value_heads=8, head_dim=128,
             max_position_embeddings=40960, rms_norm_eps=1e-6, tie_word_embeddings=True,
             attention_bias=False, attention_dropout=0.0, hidden_act="silu",
             initializer_range=0.02, use_cache=True, use_sliding_window=False,
             sliding_window=None, max_window_layers=28,
             bos_token_id=151643, eos_token_id=151645),
        1000000.0, None, "bfloat16",
        dict(bos_token_id=151643, eos_token_id=[151645, 151643], pad_token_id=151643,
             do_sample=True, temperature=0.6, top_k=20, top_p=0.95),
    ),
    # Hand-entered (see above): meta-llama/Llama-3.2-1B-Instruct.
    "llama-3.2-1b": (
        LlamaConfig,
        dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
             num_attention_heads=32, num_key_value_heads=8, head_dim=64,
             max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=True,
             attention_bias=False, attention_dropout=0.0, mlp_bias=False, hidden_act="silu",
             initializer_range=0.02, pretraining_tp=1, use_cache=True,
             bos_token_id=128000, eos_token_id=[128001, 128008, 128009]),
        500000.0, LLAMA3_SCALING, "bfloat16",
        dict(bos_token_id=128000, eos_token_id=[128001, 128008, 128009],
             do_sample=True, temperature=0.6, top_p=0.9),
    ),
    # Hand-entered (see above): Qwen/Qwen2.5-0.5B-Instruct.
    "qwen2.5-0.5b": (
        Qwen2Config,
        dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
             num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
             rms_norm_eps=1e-6, tie_word_embeddings=True, attention_dropout=0.0,
             hidden_act="silu", initializer_range=0.02, use_cache=True,
             use_sliding_window=False, sliding_window=32768, max_window_layers=21,
             bos_token_id=151643, eos_token_id=151645),
        1000000.0, None, "bfloat16",
        dict(bos_token_id=151643, eos_token_id=[151645, 151643], pad_token_id=151643,
             do_sample=True, repetition_penalty=1.1, temperature=0.7, top_k=20, top_p=0.8),
    ),
}


def build_config(cls, fields, rope_theta, rope_scaling, dtype):
    kw = dict(fields)
    if MAJOR >= 5:
        rp = {"rope_type": "default", "rope_theta": rope_theta}
        if rope_scaling:
            rp.update(rope_scaling)
            rp["rope_theta"] = rope_theta
        kw["rope_parameters"] = rp
        kw["dtype"] = dtype
    else:
        kw["rope_theta"] = rope_theta
        kw["rope_scaling"] = dict(rope_scaling) if rope_scaling else None
        kw["torch_dtype"] = dtype
    cfg = cls(**kw)
    cfg.architectures = [cls.__name__.replace("Config", "ForCausalLM")]
    return cfg


def effective(cfg):
    """The values a model would run with, independent of how a release spells them."""
    if MAJOR >= 5:
        rp = dict(cfg.rope_parameters or {})
        theta = rp.pop("rope_theta")
        rtype = rp.pop("rope_type", "default")
    else:
        theta = cfg.rope_theta
        rp = dict(cfg.rope_scaling or {})
        rtype = rp.pop("rope_type", rp.pop("type", "default"))
        rp.pop("type", None)
    keys = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps",
            "tie_word_embeddings", "max_position_embeddings", "bos_token_id", "eos_token_id",
            "attention_bias"]
    out = {k: getattr(cfg, k, None) for k in keys}
    out.update(rope_theta=float(theta), rope_type=rtype, rope_extra=rp)
    return out


def save_models(out):
    for name, (cls, fields, theta, scaling, dtype, gen) in MODELS.items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        cfg = build_config(cls, fields, theta, scaling, dtype)
        cfg.save_pretrained(d)
        GenerationConfig(**gen).save_pretrained(d)
        again = AutoConfig.from_pretrained(d)
        assert type(again) is cls, (name, type(again))
        assert effective(again) == effective(cfg), (name, effective(again), effective(cfg))
        with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
            written = json.load(f)
        for k, v in fields.items():
            # A release may rewrite a field it derives (5.x nulls sliding_window when
            # use_sliding_window is false): note it instead of failing.
            if written.get(k, v) != v:
                print(f"note: {name}: {k} given {v!r}, written {written[k]!r}")
        print(f"wrote {d}/{{config,generation_config}}.json")


SMALL_TOKENIZER_FILES = ("tokenizer_config.json", "chat_template.jinja", "chat_template.json",
                         "special_tokens_map.json", "added_tokens.json")


def save_tokenizer(src_dir, out):
    if not os.path.isfile(os.path.join(src_dir, "tokenizer.json")):
        print(f"skipped {out}: no {src_dir}/tokenizer.json (run scripts/fetch-tokenizer.sh)",
              file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory() as src, tempfile.TemporaryDirectory() as dst:
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(src_dir, fn), src)
        tok = AutoTokenizer.from_pretrained(src)
        written = tok.save_pretrained(dst)
        os.makedirs(out, exist_ok=True)
        names = sorted(os.listdir(dst))
        for fn in names:
            if fn in SMALL_TOKENIZER_FILES:
                shutil.copy(os.path.join(dst, fn), out)
        kept = [n for n in names if n in SMALL_TOKENIZER_FILES]
        dropped = [n for n in names if n not in SMALL_TOKENIZER_FILES]
        print(f"wrote {out}: {kept} ({type(tok).__name__}; not kept: {dropped}; "
              f"save_pretrained returned {[os.path.basename(p) for p in written]})")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "configs", f"transformers-{MAJOR}"))
    ap.add_argument("--tokenizer-dir",
                    default=os.path.join(HOME, ".cache", "hearth", "tokenizer"))
    ap.add_argument("--llama-tokenizer-dir",
                    default=os.path.join(HOME, ".cache", "hearth", "tokenizer-llama3"))
    args = ap.parse_args()
    print(f"transformers {transformers.__version__} -> {args.out}")
    os.makedirs(args.out, exist_ok=True)
    save_models(args.out)
    if not save_tokenizer(args.tokenizer_dir, os.path.join(args.out, "tokenizer")):
        sys.exit(1)
    save_tokenizer(args.llama_tokenizer_dir, os.path.join(args.out, "tokenizer-llama3"))


if __name__ == "__main__":
    main()
