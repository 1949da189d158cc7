#!/usr/bin/python3
"""Break a safetensors file (or config.json) in one precise way, for tests/e2e/bad_input.sh.

  corrupt.py truncate FILE BYTES          drop the last BYTES bytes
  corrupt.py header-len FILE              set the 8-byte header length past the end of the file
  corrupt.py overlap FILE                 move the second tensor (by offset) back so it overlaps the first
  corrupt.py gap FILE                     move the last tensor forward, leaving a hole before it
  corrupt.py size-mismatch FILE TENSOR    grow the tensor's first dimension without more bytes
  corrupt.py dtype FILE TENSOR DTYPE      set the tensor's dtype string (e.g. an unknown one)
  corrupt.py rename FILE TENSOR NEW       rename a tensor (so the engine finds it missing)
  corrupt.py transpose FILE TENSOR        swap a 2-D tensor's dims: same bytes, wrong shape
  corrupt.py config FILE KEY JSON         set a config.json key to a JSON value

Standard library only. Every header rewrite keeps the data buffer as it is (offsets are relative to it).
"""
import json
import os
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    return header, raw[8 + n:]


def write(path, header, data):
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)  # keep the data 8-aligned, as safetensors' own writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def by_offset(header):
    names = [k for k in header if k != "__metadata__"]
    return sorted(names, key=lambda k: tuple(header[k]["data_offsets"]))


def entry(header, name):
    if name not in header:
        sys.exit(f"corrupt.py: no tensor {name!r}; have e.g. {list(header)[:5]}")
    return header[name]


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    op, path, args = argv[1], argv[2], argv[3:]
    if op == "truncate":
        size = os.path.getsize(path)
        os.truncate(path, size - int(args[0]))
    elif op == "header-len":
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.write(struct.pack("<Q", size))  # 8 + size > size: past the end
    elif op == "config":
        with open(path) as f:
            cfg = json.load(f)
        cfg[args[0]] = json.loads(args[1])
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
    else:
        header, data = read(path)
        if op == "overlap":
            names = [k for k in by_offset(header) if header[k]["data_offsets"][0] != header[k]["data_offsets"][1]]
            second = header[names[1]]
            b, e = second["data_offsets"]
            shift = min(8, b)  # into the first tensor's bytes; same length, so sizes still agree
            second["data_offsets"] = [b - shift, e - shift]
        elif op == "gap":
            last = header[by_offset(header)[-1]]
            b, e = last["data_offsets"]
            last["data_offsets"] = [b + 64, e + 64]
            data += b"\0" * 64  # the file still ends where the last tensor does
        elif op == "size-mismatch":
            t = entry(header, args[0])
            t["shape"][0] += 1
        elif op == "dtype":
            entry(header, args[0])["dtype"] = args[1]
        elif op == "rename":
            header[args[1]] = header.pop(args[0]) if args[0] in header else entry(header, args[0])
        elif op == "transpose":
            t = entry(header, args[0])
            if len(t["shape"]) != 2 or t["shape"][0] == t["shape"][1]:
                sys.exit(f"corrupt.py: {args[0]} has shape {t['shape']}, not a non-square matrix")
            t["shape"] = t["shape"][::-1]
        else:
            sys.exit(f"corrupt.py: unknown operation {op!r}\n{__doc__}")
        write(path, header, data)


if __name__ == "__main__":
    main(sys.argv)
