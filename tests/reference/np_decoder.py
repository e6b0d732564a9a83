"""Minimal float64 numpy forward pass of the decoder-only families hearth runs (Qwen2,
Qwen3, Llama), straight from config.json and the safetensors files. Used by make_golden.py
only to cross-check transformers' logits (it guards against config-parsing / RoPE quirks of
a given transformers release); the golden numbers themselves come from transformers.

What it reads, and from where:
  * config.json, in either release's spelling: transformers 4.x's top-level `rope_theta` +
    `rope_scaling` ({"rope_type" or "type": ...}), or 5.x's `rope_parameters`
    ({"rope_type", "rope_theta", ...}). RoPE types: "default" and "llama3" (the frequency
    adjustment of transformers' _compute_llama3_parameters).
  * head_dim: config.json's `head_dim` when present, else 128 for model_type qwen3 (the
    Qwen3Config default) and hidden_size / num_attention_heads otherwise.
  * biases (q/k/v/o, and gate/up/down) and Qwen3's per-head q_norm/k_norm: used when the
    checkpoint holds the tensor, nothing else (make_golden.py checks separately that
    transformers loaded exactly the tensors on disk).
  * lm_head.weight, or the embedding when it is absent and tie_word_embeddings is true.
"""

import json
import math
import os

import numpy as np
import torch
from safetensors.torch import load_file


def weight_files(model_dir):
    """The safetensors files of a checkpoint: the shards an index lists, or model.safetensors."""
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx, encoding="utf-8") as f:
            return sorted(set(json.load(f)["weight_map"].values()))
    return ["model.safetensors"]


def load_weights(model_dir):
    w = {}
    for fn in weight_files(model_dir):
        for k, v in load_file(os.path.join(model_dir, fn)).items():
            w[k] = v.to(torch.float64).numpy()
    return w


def rms_norm(x, g, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g


def rope_parameters(c):
    """(rope_type, theta, parameters) from a 4.x or 5.x config.json."""
    rp = dict(c.get("rope_parameters") or c.get("rope_scaling") or {})
    rtype = rp.pop("rope_type", None) or rp.pop("type", None) or "default"
    rp.pop("type", None)
    theta = rp.pop("rope_theta", None)
    if theta is None:
        theta = c.get("rope_theta", 10000.0)
    return rtype, float(theta), rp


def inv_frequencies(c, head_dim):
    rtype, theta, rp = rope_parameters(c)
    assert rp.get("partial_rotary_factor", 1.0) == 1.0, rp
    inv = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    if rtype == "default":
        return inv
    assert rtype == "llama3", f"rope type {rtype!r} not supported"
    factor = float(rp["factor"])
    low, high = float(rp["low_freq_factor"]), float(rp["high_freq_factor"])
    old_ctx = float(rp["original_max_position_embeddings"])
    wavelen = 2 * math.pi / inv
    # Long wavelengths (beyond old_ctx / low) are slowed down by `factor`, short ones (below
    # old_ctx / high) kept, and those in between interpolated linearly in old_ctx / wavelen.
    smooth = (old_ctx / wavelen - low) / (high - low)
    mid = (1.0 - smooth) * inv / factor + smooth * inv
    out = np.where(wavelen > old_ctx / low, inv / factor, inv)
    medium = (wavelen >= old_ctx / high) & (wavelen <= old_ctx / low)
    return np.where(medium, mid, out)


def rope(x, pos, inv):
    # x: [heads, seq, head_dim]; rotate-half convention (HF Llama/Qwen2/Qwen3).
    d = x.shape[-1]
    ang = np.outer(pos, inv)  # [seq, d/2]
    cos = np.concatenate([np.cos(ang)] * 2, axis=-1)
    sin = np.concatenate([np.sin(ang)] * 2, axis=-1)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    rot = np.concatenate([-x2, x1], axis=-1)
    return x * cos + rot * sin


def head_dim_of(c):
    if c.get("head_dim"):
        return int(c["head_dim"])
    if c.get("model_type") == "qwen3":
        return 128
    return c["hidden_size"] // c["num_attention_heads"]


def features(model_dir, w=None):
    """What the forward will use for this checkpoint (recorded by make_golden.py)."""
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        c = json.load(f)
    if w is None:
        w = load_weights(model_dir)
    p = "model.layers.0."
    rtype, theta, rp = rope_parameters(c)
    return {
        "model_type": c.get("model_type"),
        "head_dim": head_dim_of(c),
        "qkv_bias": p + "self_attn.q_proj.bias" in w,
        "o_bias": p + "self_attn.o_proj.bias" in w,
        "mlp_bias": p + "mlp.gate_proj.bias" in w,
        "qk_norm": p + "self_attn.q_norm.weight" in w,
        "tied": "lm_head.weight" not in w,
        "rope_type": rtype,
        "rope_theta": theta,
        "rope_parameters": rp,
    }


def forward(model_dir, ids):
    """Logits [len(ids), vocab] in float64 for one causal sequence."""
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        c = json.load(f)
    assert c.get("hidden_act", "silu") == "silu"
    assert not c.get("use_sliding_window", False)
    H = c["hidden_size"]
    nh = c["num_attention_heads"]
    kv = c.get("num_key_value_heads") or nh
    hd = head_dim_of(c)
    eps = c["rms_norm_eps"]
    inv = inv_frequencies(c, hd)
    w = load_weights(model_dir)
    x = w["model.embed_tokens.weight"][ids]
    assert x.shape[1] == H
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    mask = np.triu(np.full((T, T), -np.inf), 1)

    def linear(h, name):
        y = h @ w[name + ".weight"].T
        b = w.get(name + ".bias")
        return y if b is None else y + b

    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = linear(h, p + "self_attn.q_proj").reshape(T, nh, hd)
        k = linear(h, p + "self_attn.k_proj").reshape(T, kv, hd)
        v = linear(h, p + "self_attn.v_proj").reshape(T, kv, hd)
        if p + "self_attn.q_norm.weight" in w:  # Qwen3: RMSNorm over each head, before RoPE
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        else:
            assert p + "self_attn.k_norm.weight" not in w
        q = rope(q.transpose(1, 0, 2), pos, inv)
        k = rope(k.transpose(1, 0, 2), pos, inv)
        v = v.transpose(1, 0, 2)
        rep = nh // kv
        k = np.repeat(k, rep, axis=0)
        v = np.repeat(v, rep, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(T, nh * hd)
        x = x + linear(a, p + "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = linear(h, p + "mlp.gate_proj")
        u = linear(h, p + "mlp.up_proj")
        x = x + linear((g / (1.0 + np.exp(-g))) * u, p + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight")
    if head is None:
        assert c.get("tie_word_embeddings", False), "no lm_head.weight and not tied"
        head = w["model.embed_tokens.weight"]
    return x @ head.T
