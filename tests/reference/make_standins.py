#!/usr/bin/env python3
"""Stand-in test models, made with transformers alone, for trying make_golden.py without
hearth's `make-test-model` (whose checkpoints are the real test models: never write goldens
into tests/golden from these).

  python tests/reference/make_standins.py --out /tmp/standin
  python tests/reference/make_golden.py --models-dir /tmp/standin --out /tmp/golden-test
  (copy tests/golden/conversations.json into /tmp/golden-test first)

Writes <out>/<name>/ for tiny-gqa-tied and tiny-mqa-untied (the Qwen2 shapes of
tests/golden/<name>.json's "config"), tiny-qwen3 and tiny-llama (save_configs.py's shapes):
config.json, generation_config.json, model.safetensors (random weights, seeded, every
tensor perturbed so that norms, biases and q_norm/k_norm are not their init values), and
tokenizer.json + tokenizer_config.json: the Qwen tokenizer with the qwen2 template of
tests/golden/chat_template.json (Qwen2 models) or with its own Qwen3 template (tiny-qwen3),
and the Llama 3.1 tokenizer (tiny-llama).
"""

import argparse
import json
import os
import shutil
import sys
import zlib

import torch
from transformers import AutoModelForCausalLM, GenerationConfig, Qwen2Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import save_configs  # noqa: E402  (beside this script)

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden")
HOME = os.path.expanduser("~")


def qwen2_config(name):
    with open(os.path.join(GOLDEN, f"{name}.json"), encoding="utf-8") as f:
        c = dict(json.load(f)["config"])
    dtype = c.pop("torch_dtype", None) or c.pop("dtype", "float32")
    theta = c.pop("rope_theta")
    c.pop("architectures", None)
    c.pop("model_type", None)
    cfg = save_configs.build_config(Qwen2Config, c, theta, None, dtype)
    return cfg, dtype, {"bos_token_id": c["bos_token_id"], "eos_token_id": c["eos_token_id"]}


def standin_config(name):
    if name in ("tiny-gqa-tied", "tiny-mqa-untied"):
        return qwen2_config(name)
    cls, fields, theta, scaling, dtype, gen = save_configs.MODELS[name]
    return save_configs.build_config(cls, fields, theta, scaling, dtype), dtype, gen


@torch.no_grad()
def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    for n, p in model.named_parameters():
        noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
        if n.endswith("norm.weight"):
            p.copy_(1.0 + 0.2 * noise)
        elif n.endswith(".bias"):
            p.copy_(0.1 * noise)
        else:
            p.copy_(0.1 * noise)


def write_tokenizer(name, d, qwen_dir, llama_dir, qwen2_template):
    if name == "tiny-llama":
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(llama_dir, fn), d)
        return
    shutil.copy(os.path.join(qwen_dir, "tokenizer.json"), d)
    with open(os.path.join(qwen_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    if name != "tiny-qwen3":
        tc["chat_template"] = qwen2_template
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tc, f, ensure_ascii=False, indent=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/standin")
    ap.add_argument("--tokenizer-dir", default=os.path.join(HOME, ".cache", "hearth", "tokenizer"))
    ap.add_argument("--llama-tokenizer-dir",
                    default=os.path.join(HOME, ".cache", "hearth", "tokenizer-llama3"))
    ap.add_argument("--models", nargs="*",
                    default=["tiny-gqa-tied", "tiny-mqa-untied", "tiny-qwen3", "tiny-llama"])
    args = ap.parse_args()
    with open(os.path.join(GOLDEN, "chat_template.json"), encoding="utf-8") as f:
        qwen2_template = json.load(f)["templates"]["qwen2"]
    for name in args.models:
        cfg, dtype, gen = standin_config(name)
        seed = zlib.crc32(name.encode())
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(cfg).to(torch.float32)
        perturb(model, seed)
        if model.config.tie_word_embeddings:
            assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
        model = model.to(getattr(torch, dtype))
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        model.save_pretrained(d, safe_serialization=True)
        GenerationConfig(**gen).save_pretrained(d)
        write_tokenizer(name, d, args.tokenizer_dir, args.llama_tokenizer_dir, qwen2_template)
        print(f"wrote {d} ({type(model).__name__}, {dtype}, "
              f"{sum(p.numel() for p in model.parameters())} parameters)")


if __name__ == "__main__":
    main()
