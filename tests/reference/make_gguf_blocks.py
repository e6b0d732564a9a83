#!/usr/bin/env python3
"""Writes gguf_blocks.gguf: random blocks of every ggml type that gguf-py can dequantize,
each next to gguf-py's dequantization of it, plus metadata of every GGUF value type.

The Rust tests read it to check the parser against gguf-py's own writer and the
dequantizer bit for bit against gguf.quants.dequantize (a numpy port of ggml's reference).

    python3 -m venv /tmp/pygguf && /tmp/pygguf/bin/pip install gguf==0.19.0 numpy
    /tmp/pygguf/bin/python tests/reference/make_gguf_blocks.py tests/golden/gguf_blocks.gguf

Deterministic: the same gguf and numpy versions write the same bytes.
"""

import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from gguf.constants import GGML_QUANT_SIZES

SEED = 20240611
ROWS = 2
# Blocks per row for the block types (8 blocks per type in all), values per row for the
# float types, whose "block" is one value.
BLOCKS_PER_ROW = 4
FLOAT_ROW = 32

# Where each block type keeps its float fields (byte offset, kind). Raw random bytes there
# could be NaN or infinity; every other byte of a block is quants or packed scales, where
# any value is valid.
FLOAT_FIELDS = {
    T.F32: [(0, "f32")],
    T.F16: [(0, "f16")],
    T.BF16: [(0, "bf16")],
    T.Q4_0: [(0, "f16")],
    T.Q4_1: [(0, "f16"), (2, "f16")],
    T.Q5_0: [(0, "f16")],
    T.Q5_1: [(0, "f16"), (2, "f16")],
    T.Q8_0: [(0, "f16")],
    T.Q2_K: [(80, "f16"), (82, "f16")],
    T.Q3_K: [(108, "f16")],
    T.Q4_K: [(0, "f16"), (2, "f16")],
    T.Q5_K: [(0, "f16"), (2, "f16")],
    T.Q6_K: [(208, "f16")],
    T.Q8_K: [(0, "f32")],
}

# (bit width, exponent mask): an all-ones exponent is NaN or infinity.
KINDS = {"f16": (16, 0x7C00), "bf16": (16, 0x7F80), "f32": (32, 0x7F800000)}


def finite_bits(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """Random bit patterns of finite floats: every sign, exponent (subnormals included)
    and mantissa, redrawn where the exponent is all ones."""
    bits, exp = KINDS[kind]
    dtype = np.uint16 if bits == 16 else np.uint32
    out = rng.integers(0, 1 << bits, size=n, dtype=np.uint64).astype(dtype)
    while True:
        bad = (out & dtype(exp)) == dtype(exp)
        if not bad.any():
            return out
        out[bad] = rng.integers(0, 1 << bits, size=int(bad.sum()), dtype=np.uint64).astype(dtype)


def random_blocks(rng: np.random.Generator, qtype: T) -> np.ndarray:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n_blocks = BLOCKS_PER_ROW if block_size > 1 else FLOAT_ROW
    raw = rng.integers(0, 256, size=(ROWS * n_blocks, type_size), dtype=np.uint8)
    for offset, kind in FLOAT_FIELDS[qtype]:
        width = KINDS[kind][0] // 8
        field = finite_bits(rng, raw.shape[0], kind).astype(f"<u{width}")
        raw[:, offset:offset + width] = field.view(np.uint8).reshape(-1, width)
    return raw.reshape(ROWS, n_blocks * type_size)


def dequantizable(qtype: T) -> bool:
    _, type_size = GGML_QUANT_SIZES[qtype]
    try:
        gguf.quants.dequantize(np.zeros((1, type_size), dtype=np.uint8), qtype)
        return True
    except NotImplementedError:
        return False


def add_metadata(w: gguf.GGUFWriter) -> None:
    """One key per value type, with values at the edges of their ranges; the Rust test
    checks each of them."""
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4_000_000_000)
    w.add_int32("test.i32", -2_000_000_000)
    w.add_float32("test.f32", 3.25)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "h\u00e9llo, w\u00f6rld \u2713")
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**62) - 7)
    w.add_float64("test.f64", 0.1)
    w.add_key_value("test.array.u8", [1, 2, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("test.array.i16", [-3, 0, 32767], V.ARRAY, sub_type=V.INT16)
    w.add_key_value("test.array.u64", [0, 2**64 - 1], V.ARRAY, sub_type=V.UINT64)
    w.add_array("test.array.i32", [7, -8, 9])
    w.add_array("test.array.f32", [0.5, -1.25, 1e-3])
    w.add_key_value("test.array.f64", [0.1, -2.5], V.ARRAY, sub_type=V.FLOAT64)
    w.add_array("test.array.bool", [True, False, True])
    w.add_array("test.array.string", ["a", "b\u00e9", "", "tokens \u2581like"])
    w.add_array("test.array.nested", [[1, 2], [3, 4, 5]])
    w.add_array("test.array.nested_strings", [["x", "y"], ["z"]])
    w.add_array("test.array.deep", [[[1.5]], [[2.5, 3.5]]])


def main() -> None:
    if version("gguf") != "0.19.0":
        print(f"warning: gguf {version('gguf')}, the fixture was made with 0.19.0", file=sys.stderr)
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("gguf_blocks.gguf")
    rng = np.random.default_rng(SEED)
    w = gguf.GGUFWriter(out, arch="test")
    # Not the default of 32, so that the reader must honour general.alignment.
    w.add_custom_alignment(64)
    add_metadata(w)
    written, skipped = [], []
    for qtype in FLOAT_FIELDS:
        if not dequantizable(qtype):
            skipped.append(qtype.name)
            continue
        raw = random_blocks(rng, qtype)
        expected = gguf.quants.dequantize(raw, qtype).astype(np.float32)
        assert np.isfinite(expected).all(), qtype.name
        w.add_tensor(f"blocks.{qtype.name}", raw, raw_dtype=qtype)
        w.add_tensor(f"expected.{qtype.name}", expected)
        written.append(qtype.name)
    w.add_array("test.types", written)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{out}: {out.stat().st_size} bytes; types {', '.join(written)}")
    if skipped:
        print(f"gguf {version('gguf')} cannot dequantize: {', '.join(skipped)}")


if __name__ == "__main__":
    main()
