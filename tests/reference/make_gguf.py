#!/usr/bin/env python3
"""Converts a Hugging Face checkpoint directory into one GGUF file with the PyPI `gguf`
package's own GGUFWriter, in llama.cpp's layout (metadata keys, tensor names, the tokenizer
as `tokenizer.ggml.*`, Llama's q/k row permutation), so that hearth's GGUF loader is tested
on files the ecosystem's writer produced, never on ours.

    python3 -m venv /tmp/pygguf && /tmp/pygguf/bin/pip install gguf==0.19.0 numpy
    /tmp/pygguf/bin/python tests/reference/make_gguf.py MODEL_DIR OUT.gguf --type Q8_0

--type: F32, F16, BF16 or a block type gguf.quants.quantize writes (Q8_0, Q4_0, Q4_1, Q5_0,
Q5_1). As llama.cpp's converter does, 1-D tensors (norms, biases) stay F32; with a block
type every matrix is quantized, the embedding and output included.
"""

import argparse
import json
import os

import numpy as np
import gguf

ARCH = {"Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3", "LlamaForCausalLM": "llama"}
PRE = {"qwen2": "qwen2", "qwen3": "qwen2", "llama": "llama-bpe"}
LAYER = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
TOP = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
       "lm_head.weight": "output.weight"}
FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "BF16": 32}


def gguf_name(name):
    if name in TOP:
        return TOP[name]
    parts = name.split(".")  # model.layers.N.rest
    return f"blk.{parts[2]}.{LAYER['.'.join(parts[3:])]}"


def load_bf16_aware(model_dir):
    """Every tensor in f32; safetensors' numpy reader has no bf16, so the header is read here."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    out = {}
    for f in files:
        data = open(os.path.join(model_dir, f), "rb").read()
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n])
        body = data[8 + n:]
        for name, e in header.items():
            if name == "__metadata__":
                continue
            a, b = e["data_offsets"]
            raw = body[a:b]
            if e["dtype"] == "F32":
                v = np.frombuffer(raw, dtype="<f4")
            elif e["dtype"] == "F16":
                v = np.frombuffer(raw, dtype="<f2").astype(np.float32)
            elif e["dtype"] == "BF16":
                v = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                raise SystemExit(f"{f}: {name}: dtype {e['dtype']} not handled")
            out[name] = v.reshape(e["shape"]).astype(np.float32)
    return out


def permute(w, heads):
    """llama.cpp's converter: each head's rows [half, j] reordered to [j, half], so that its
    pairwise (interleaved) RoPE equals transformers' rotate-half."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_factors(config, head_dim):
    """The `rope_freqs.weight` llama.cpp writes for rope_type llama3: per frequency the
    divisor that turns the plain inverse frequency into the scaled one."""
    p = config.get("rope_parameters") or config.get("rope_scaling") or {}
    theta = p.get("rope_theta", config.get("rope_theta", 10000.0))
    if (p.get("rope_type") or p.get("type")) != "llama3":
        return None
    freqs = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    factor, low, high = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
    old = p["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    factors = []
    for f in freqs:
        wavelen = 2 * np.pi / f
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("out")
    ap.add_argument("--type", default="F32")
    args = ap.parse_args()
    qtype = gguf.GGMLQuantizationType[args.type]

    config = json.load(open(os.path.join(args.model_dir, "config.json")))
    arch = ARCH[config["architectures"][0]]
    heads, kv = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    p = config.get("rope_parameters") or {}
    theta = p.get("rope_theta", config.get("rope_theta", 10000.0))

    w = gguf.GGUFWriter(args.out, arch)
    w.add_name(os.path.basename(os.path.normpath(args.model_dir)))
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_block_count(config["num_hidden_layers"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    w.add_rope_freq_base(theta)
    if head_dim * heads != config["hidden_size"]:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_vocab_size(config["vocab_size"])
    w.add_file_type(FILE_TYPE[args.type])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    tok = json.load(open(os.path.join(args.model_dir, "tokenizer.json")))
    tok_config = json.load(open(os.path.join(args.model_dir, "tokenizer_config.json")))
    vocab = {**tok["model"]["vocab"]}
    added = {t["id"]: t for t in tok["added_tokens"]}
    for t in added.values():
        vocab[t["content"]] = t["id"]
    by_id = {i: s for s, i in vocab.items()}
    tokens, types = [], []
    for i in range(config["vocab_size"]):
        if i in by_id:
            tokens.append(by_id[i])
            t = added.get(i)
            types.append(gguf.TokenType.NORMAL if t is None else
                         gguf.TokenType.CONTROL if t["special"] else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(PRE[arch])
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    gen_path = os.path.join(args.model_dir, "generation_config.json")
    gen = json.load(open(gen_path)) if os.path.exists(gen_path) else {}
    if config.get("bos_token_id") is not None:
        w.add_bos_token_id(config["bos_token_id"])
    eos = tok_config.get("eos_token")
    eos = eos["content"] if isinstance(eos, dict) else eos
    if eos in vocab:
        w.add_eos_token_id(vocab[eos])
    elif config.get("eos_token_id") is not None:
        w.add_eos_token_id(config["eos_token_id"] if isinstance(config["eos_token_id"], int) else config["eos_token_id"][0])
    if gen.get("pad_token_id") is not None:
        w.add_pad_token_id(gen["pad_token_id"])
    w.add_add_bos_token(bool(tok_config.get("add_bos_token", arch == "llama")))
    template = tok_config.get("chat_template")
    jinja = os.path.join(args.model_dir, "chat_template.jinja")
    if os.path.exists(jinja):
        template = open(jinja, encoding="utf-8").read()
    if template:
        w.add_chat_template(template)

    tensors = load_bf16_aware(args.model_dir)
    if arch == "llama":
        factors = llama3_factors(config, head_dim)
        if factors is not None:
            w.add_tensor("rope_freqs.weight", factors)
    for name, value in tensors.items():
        if arch == "llama" and name.endswith(("q_proj.weight", "q_proj.bias")):
            value = permute(value, heads)
        if arch == "llama" and name.endswith(("k_proj.weight", "k_proj.bias")):
            value = permute(value, kv)
        target = gguf_name(name)
        if value.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(target, value.astype(np.float32))
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(target, value.astype(np.float16))
        else:
            data = gguf.quants.quantize(value, qtype)
            w.add_tensor(target, data, raw_shape=data.shape, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes, {arch}, {args.type})")


if __name__ == "__main__":
    main()
