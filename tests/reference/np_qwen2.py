"""Minimal float64 numpy Qwen2 forward pass, straight from config.json and the
safetensors file. Used by make_golden.py only to cross-check transformers'
logits (it guards against config-parsing / RoPE quirks of a given
transformers release); the golden numbers themselves come from transformers.
"""

import json
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


def rope(x, pos, theta):
    # x: [heads, seq, head_dim]; rotate-half convention (HF Llama/Qwen2).
    d = x.shape[-1]
    inv = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
    ang = np.outer(pos, inv)  # [seq, d/2]
    cos = np.concatenate([np.cos(ang)] * 2, axis=-1)
    sin = np.concatenate([np.sin(ang)] * 2, axis=-1)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    rot = np.concatenate([-x2, x1], axis=-1)
    return x * cos + rot * sin


def forward(model_dir, ids):
    """Logits [len(ids), vocab] in float64 for one causal sequence."""
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        c = json.load(f)
    assert c.get("hidden_act", "silu") == "silu"
    assert not c.get("use_sliding_window", False)
    rp = c.get("rope_parameters") or c.get("rope_scaling") or {}
    assert rp.get("rope_type", rp.get("type", "default")) == "default", rp
    theta = float(c.get("rope_theta", rp.get("rope_theta", 10000.0)))
    H = c["hidden_size"]
    nh = c["num_attention_heads"]
    kv = c.get("num_key_value_heads", nh)
    hd = c.get("head_dim") or H // nh
    eps = c["rms_norm_eps"]
    w = load_weights(model_dir)
    x = w["model.embed_tokens.weight"][ids]
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = h @ w[p + "self_attn.q_proj.weight"].T + w[p + "self_attn.q_proj.bias"]
        k = h @ w[p + "self_attn.k_proj.weight"].T + w[p + "self_attn.k_proj.bias"]
        v = h @ w[p + "self_attn.v_proj.weight"].T + w[p + "self_attn.v_proj.bias"]
        q = rope(q.reshape(T, nh, hd).transpose(1, 0, 2), pos, theta)
        k = rope(k.reshape(T, kv, hd).transpose(1, 0, 2), pos, theta)
        v = v.reshape(T, kv, hd).transpose(1, 0, 2)
        rep = nh // kv
        k = np.repeat(k, rep, axis=0)
        v = np.repeat(v, rep, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(T, nh * hd)
        x = x + a @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = h @ w[p + "mlp.gate_proj.weight"].T
        u = h @ w[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1.0 + np.exp(-g))) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight")
    if head is None:
        assert c.get("tie_word_embeddings", False), "no lm_head.weight and not tied"
        head = w["model.embed_tokens.weight"]
    return x @ head.T
