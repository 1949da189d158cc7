#!/usr/bin/python3
"""Writes "the same model with every weight dequantized by numpy": a copy of a GGUF file whose
block-format tensors (Q4_K, IQ2_XS, ...) are decoded by tests/reference/ggml_dequant.py and stored as
F32. Metadata and the other tensors are copied as they are.

  gguf_dequantize.py IN.gguf OUT.gguf

Prints one line per type converted: tensors, values, and the input's bits per weight.
"""
import os
import sys
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ggml_dequant  # noqa: E402
import gguf_file  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gguf_dequantize.py IN.gguf OUT.gguf")
    src, dst = sys.argv[1:]
    g = gguf_file.read(src)
    seen = defaultdict(lambda: [0, 0, 0])  # type -> tensors, values, bytes
    out = []
    for t in g.tensors:
        if t.ggml_type in ggml_dequant.BY_ID:
            n = int(np.prod(t.ne, dtype=np.int64))
            values = ggml_dequant.dequantize(t.ggml_type, t.data, n).astype("<f4")
            if not np.all(np.isfinite(values)):
                sys.exit(f"gguf_dequantize.py: {t.name} decodes to non-finite values")
            s = seen[gguf_file.type_name(t.ggml_type)]
            s[0], s[1], s[2] = s[0] + 1, s[1] + n, s[2] + len(t.data)
            t = gguf_file.Tensor(t.name, t.ne, gguf_file.F32, values.tobytes())
        out.append(t)
    gguf_file.write(dst, g.raw_kv, out, g.alignment)
    for name, (count, n, nbytes) in sorted(seen.items()):
        print(f"{name}: {count} tensors, {n} values, {8 * nbytes / n:.4f} bits per weight -> F32")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError) as e:  # a bad or unreadable file, the lattice tables missing
        sys.exit(f"gguf_dequantize.py: {e}")
