#!/usr/bin/env python3
"""Writes the fuzz corpus's binary seeds with the ecosystem's own writers: a tiny Qwen2 GGUF
(gguf-py's GGUFWriter, every metadata key hearth reads, a 16-token BPE vocabulary) and two
safetensors files (the `safetensors` package's numpy writer).

    python3 -m venv /tmp/seeds && /tmp/seeds/bin/pip install gguf==0.19.0 numpy safetensors==0.5.3
    /tmp/seeds/bin/python tests/fuzz/make_seeds.py tests/fuzz/corpus

Deterministic; small, so that each mutated input parses in microseconds.
"""

import sys
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import save_file

HIDDEN, FF, HEADS, KV_HEADS, VOCAB = 8, 16, 2, 1, 16
HEAD_DIM = HIDDEN // HEADS


def weights(rng):
    """Qwen2's tensors for one layer, under transformers' names."""
    kv = KV_HEADS * HEAD_DIM
    shapes = {
        "model.embed_tokens.weight": (VOCAB, HIDDEN),
        "model.layers.0.input_layernorm.weight": (HIDDEN,),
        "model.layers.0.self_attn.q_proj.weight": (HIDDEN, HIDDEN),
        "model.layers.0.self_attn.q_proj.bias": (HIDDEN,),
        "model.layers.0.self_attn.k_proj.weight": (kv, HIDDEN),
        "model.layers.0.self_attn.k_proj.bias": (kv,),
        "model.layers.0.self_attn.v_proj.weight": (kv, HIDDEN),
        "model.layers.0.self_attn.v_proj.bias": (kv,),
        "model.layers.0.self_attn.o_proj.weight": (HIDDEN, HIDDEN),
        "model.layers.0.post_attention_layernorm.weight": (HIDDEN,),
        "model.layers.0.mlp.gate_proj.weight": (FF, HIDDEN),
        "model.layers.0.mlp.up_proj.weight": (FF, HIDDEN),
        "model.layers.0.mlp.down_proj.weight": (HIDDEN, FF),
        "model.norm.weight": (HIDDEN,),
    }
    return {n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}


GGUF_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_name(name):
    if name in GGUF_NAMES:
        return GGUF_NAMES[name]
    layer, rest = name.removeprefix("model.layers.").split(".", 1)
    for hf, gg in GGUF_NAMES.items():
        if rest.startswith(hf + "."):
            return f"blk.{layer}.{gg}.{rest[len(hf) + 1:]}"
    raise KeyError(name)


def write_gguf(path, tensors):
    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_name("fuzz-seed")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(1000000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    tokens = ["a", "b", "c", "ab", "bc", "abc", " ", "\u010a", "<|im_start|>", "<|im_end|>",
              "<|endoftext|>", "user", "assistant", "system", "h", "i"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if t.startswith("<|") else gguf.TokenType.NORMAL
                       for t in tokens])
    w.add_token_merges(["a b", "b c", "ab c"])
    w.add_eos_token_id(9)
    w.add_bos_token_id(10)
    w.add_add_bos_token(False)
    w.add_chat_template(
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
    for name, value in tensors.items():
        w.add_tensor(gguf_name(name), value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main(out):
    out = Path(out)
    rng = np.random.default_rng(20261203)
    tensors = weights(rng)
    write_gguf(out / "gguf" / "qwen2-tiny.gguf", tensors)
    save_file(tensors, str(out / "safetensors" / "qwen2-tiny.safetensors"), metadata={"format": "pt"})
    halves = {"a": np.arange(6, dtype=np.float16).reshape(2, 3), "b": np.zeros((0,), np.float32),
              "c": np.ones((1, 1, 2), np.float32)}
    save_file(halves, str(out / "safetensors" / "mixed.safetensors"))


if __name__ == "__main__":
    main(sys.argv[1])
