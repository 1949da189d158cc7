#!/usr/bin/python3
"""Quantizes the matrices of a float GGUF file with llama.cpp's own quantizer (libggml-base.so's
ggml_quantize_chunk, through ctypes): test files of every block format, made by the peer rather than
by the engine under test.

  ggml_requantize.py IN.gguf OUT.gguf --type Q4_K [--override REGEX=TYPE ...] [--threads N]

IN holds F32 / F16 / BF16 tensors (`mla convert --to gguf`). Every tensor of rank >= 2 whose rows are
whole blocks of TYPE is quantized to TYPE (or to the TYPE of the first --override whose regex matches
its name: a per-tensor mix); as llama.cpp does, 1-D tensors, ffn_gate_inp (the router) and tensors
whose rows are not whole blocks stay as they are. Types that need an importance matrix
(ggml_quantize_requires_imatrix: IQ2_XXS, IQ2_XS, IQ1_S, ...) get one of all ones. Metadata is copied
as it is. Prints the quantized tensors per type and the file's bits per quantized weight.
MLA_PEER_LIB_DIR overrides the folder of libggml-base.so; exits 2 with "peer not installed" if absent.
"""
import argparse
import ctypes
import os
import re
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ggml_dequant  # noqa: E402
import gguf_file  # noqa: E402
from check_dequant_peer import load_peer, PEER_DIR  # noqa: E402


def bind(lib):
    lib.ggml_quantize_init.argtypes = [ctypes.c_int]
    lib.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]
    lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_type_name.argtypes = [ctypes.c_int]
    lib.ggml_type_name.restype = ctypes.c_char_p
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    lib.ggml_row_size.restype = ctypes.c_size_t


def quantize(lib, type_name, values, threads):
    """values [rows, n_per_row] float32 -> the bytes of the rows in format type_name. The rows are split
    among threads (ctypes releases the GIL during the call; the i-quants' searches are slow)."""
    _, f = ggml_dequant.format_of(type_name)
    if lib.ggml_type_name(f.type_id).decode().upper() != type_name:  # the id tables must agree
        sys.exit(f"ggml_requantize.py: the peer calls type {f.type_id} {lib.ggml_type_name(f.type_id).decode()}, not {type_name}")
    rows, n_per_row = values.shape
    row_bytes = n_per_row // f.block_values * f.block_bytes
    if lib.ggml_row_size(f.type_id, n_per_row) != row_bytes:
        sys.exit(f"ggml_requantize.py: the peer's {type_name} row size differs from ggml_dequant.py's")
    lib.ggml_quantize_init(f.type_id)
    src = np.ascontiguousarray(values, np.float32)
    dst = np.zeros(rows * row_bytes, np.uint8)
    imatrix = np.ones(n_per_row, np.float32) if lib.ggml_quantize_requires_imatrix(f.type_id) else None

    def chunk(first_last):  # ggml_quantize_chunk's start is the index of the chunk's first value
        first, last = first_last
        return lib.ggml_quantize_chunk(f.type_id, src.ctypes.data, dst.ctypes.data, first * n_per_row,
                                       last - first, n_per_row, None if imatrix is None else imatrix.ctypes.data)

    bounds = np.linspace(0, rows, min(threads, rows) + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        written = sum(pool.map(chunk, zip(bounds[:-1], bounds[1:])))
    if written != dst.size:
        sys.exit(f"ggml_requantize.py: ggml_quantize_chunk wrote {written} bytes, expected {dst.size}")
    return dst.tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--type", required=True, type=str.upper, choices=sorted(ggml_dequant.FORMATS))
    ap.add_argument("--override", action="append", default=[], metavar="REGEX=TYPE",
                    help="tensors whose name matches REGEX get TYPE (first match wins)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    overrides = []
    for o in a.override:
        regex, _, t = o.rpartition("=")
        if not regex or t.upper() not in ggml_dequant.FORMATS:
            sys.exit(f"ggml_requantize.py: --override wants REGEX=TYPE with a block format, got '{o}'")
        overrides.append((re.compile(regex), t.upper()))
    lib = load_peer()
    if lib is None:
        print(f"peer not installed ({PEER_DIR}/libggml-base.so)", file=sys.stderr)
        return 2
    bind(lib)

    g = gguf_file.read(a.src)
    stats = defaultdict(lambda: [0, 0, 0])  # type -> tensors, values, bytes
    out = []
    for t in g.tensors:
        target = next((ty for rx, ty in overrides if rx.search(t.name)), a.type)
        block = ggml_dequant.FORMATS[target].block_values
        if len(t.ne) >= 2 and "ffn_gate_inp" not in t.name and t.ne[0] % block == 0:
            values = gguf_file.as_f32(t).reshape(-1, t.ne[0])
            t = gguf_file.Tensor(t.name, t.ne, ggml_dequant.FORMATS[target].type_id, quantize(lib, target, values, a.threads))
            s = stats[target]
            s[0], s[1], s[2] = s[0] + 1, s[1] + values.size, s[2] + len(t.data)
        out.append(t)
    gguf_file.write(a.dst, g.raw_kv, out, g.alignment)
    for name, (count, n, nbytes) in sorted(stats.items()):
        print(f"{name}: {count} tensors, {n} values, {8 * nbytes / n:.4f} bits per weight")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError) as e:  # a bad or unreadable file, the lattice tables missing
        sys.exit(f"ggml_requantize.py: {e}")
