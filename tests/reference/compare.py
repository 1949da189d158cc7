#!/usr/bin/python3
"""Comparisons for tests/e2e/deepseek_reference.sh and tests/e2e/llama_reference.sh.

  compare.py logits --ref REF.f32 --got GOT.f32 --vocab V --case NAME --summary TSV [--abs-tol A --rel-tol R]
                    [--pos-tol P --pos-quantile Q]
      Every logit must satisfy |got - ref| <= A + R * max|ref| (default 1e-3 + 1e-4 * max|ref|), and
      with P, the Q-quantile (default 0.9) over positions of max_id |got - ref| must be <= P * max|ref|
      (a few positions may exceed it: rounding can flip a discrete choice, such as a routed expert).
      Appends one row to TSV.
  compare.py ids --ref REF.json --got GOT.json --case NAME --summary TSV [--tol T]
      REF.json is the reference's {"ids": [...], "gaps": [...]} (gaps: top1 - top2 reference
      logit at each step); GOT.json is the engine's output with key "ids". The ids must be equal.
      The one exception is a near-tie: if the first differing step has a reference gap <= the
      logit tolerance, the engine may legitimately pick the other token (reported as "near-tie").
  compare.py fail --case NAME --what TEXT --summary TSV
      Records a case that could not run (engine error, ...).
  compare.py table --summary TSV
      Prints the summary table; exits 1 if any row failed.
Exit status 0 when the comparison passes, 1 otherwise.
"""
import argparse
import json
import os
import sys

import numpy as np

ABS_TOL, REL_TOL = 1e-3, 1e-4


def append(summary, case, status, detail):
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(f"{case}\t{status}\t{detail}\n")
    print(f"{status:8s} {case}: {detail}")
    return 0 if status in ("PASS", "PASS*") else 1


def cmd_logits(a):
    ref = np.fromfile(a.ref, dtype="<f4").astype(np.float64)
    if not os.path.exists(a.got):
        return append(a.summary, a.case, "FAIL", f"engine wrote no logits file {a.got}")
    got = np.fromfile(a.got, dtype="<f4").astype(np.float64)
    if ref.size % a.vocab:
        return append(a.summary, a.case, "FAIL", f"reference size {ref.size} not a multiple of vocab {a.vocab}")
    T = ref.size // a.vocab
    if got.size != ref.size:
        return append(a.summary, a.case, "FAIL",
                      f"engine wrote {got.size} floats ({got.size / a.vocab:g} rows), expected {T} x {a.vocab}")
    ref = ref.reshape(T, a.vocab)
    got = got.reshape(T, a.vocab)
    if not np.all(np.isfinite(got)):
        bad = np.argwhere(~np.isfinite(got))[0]
        return append(a.summary, a.case, "FAIL", f"non-finite logit at position {bad[0]}, id {bad[1]}")
    bound = a.abs_tol + a.rel_tol * float(np.max(np.abs(ref)))
    err = np.abs(got - ref)
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    max_err = float(err[worst])
    first_bad_pos = None
    over = np.any(err > bound, axis=1)
    if over.any():
        first_bad_pos = int(np.argmax(over))
    argmax_agree = int(np.sum(np.argmax(got, axis=1) == np.argmax(ref, axis=1)))
    detail = (f"max err {max_err:.3e} (bound {bound:.3e}) at position {worst[0]} id {worst[1]}; "
              f"argmax agrees {argmax_agree}/{T}")
    typical_over = False
    if a.pos_tol is not None:
        typical = float(np.quantile(err.max(axis=1), a.pos_quantile)) / max(float(np.max(np.abs(ref))), 1e-30)
        detail += (f"; {a.pos_quantile:g}-quantile of per-position max err / max|ref| {typical:.2e} "
                   f"(bound {a.pos_tol:.0e})")
        typical_over = typical > a.pos_tol
    if first_bad_pos is not None:
        detail += f"; first position over the bound: {first_bad_pos}"
    if first_bad_pos is not None or typical_over:
        return append(a.summary, a.case, "FAIL", detail)
    return append(a.summary, a.case, "PASS", detail)


def cmd_ids(a):
    ref = json.load(open(a.ref))
    try:
        got = json.load(open(a.got))["ids"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return append(a.summary, a.case, "FAIL", f"cannot read engine ids from {a.got}: {e}")
    r_ids, gaps = ref["ids"], ref["gaps"]
    if len(got) != len(r_ids):
        return append(a.summary, a.case, "FAIL", f"engine generated {len(got)} ids, expected {len(r_ids)}: {got}")
    for k, (x, y) in enumerate(zip(got, r_ids)):
        if x != y:
            if gaps[k] <= a.tol:
                return append(a.summary, a.case, "PASS*",
                              f"{k}/{len(r_ids)} ids equal, then a near-tie at step {k} (reference "
                              f"top1-top2 gap {gaps[k]:.2e} <= {a.tol:.1e}): engine {x}, reference {y}")
            return append(a.summary, a.case, "FAIL",
                          f"step {k}: engine {x}, reference {y} (reference gap {gaps[k]:.3f}); "
                          f"engine {got}, reference {r_ids}")
    return append(a.summary, a.case, "PASS",
                  f"{len(r_ids)} greedy ids equal (smallest reference gap {min(gaps):.2e})")


def cmd_fail(a):
    return append(a.summary, a.case, "FAIL", a.what)


def cmd_table(a):
    rows = []
    if os.path.exists(a.summary):
        rows = [line.rstrip("\n").split("\t", 2) for line in open(a.summary, encoding="utf-8") if line.strip()]
    w = max([len(r[0]) for r in rows] + [4])
    print()
    print(f"{'case':{w}s}  result  detail")
    print(f"{'-' * w}  ------  {'-' * 40}")
    for case, status, detail in rows:
        print(f"{case:{w}s}  {status:6s}  {detail}")
    n_fail = sum(1 for r in rows if r[1] not in ("PASS", "PASS*"))
    print(f"\n{len(rows) - n_fail}/{len(rows)} passed" + (f", {n_fail} FAILED" if n_fail else ""))
    return 1 if n_fail or not rows else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("logits")
    p.add_argument("--ref", required=True)
    p.add_argument("--got", required=True)
    p.add_argument("--vocab", type=int, required=True)
    p.add_argument("--case", required=True)
    p.add_argument("--summary")
    p.add_argument("--abs-tol", type=float, default=ABS_TOL)
    p.add_argument("--rel-tol", type=float, default=REL_TOL)
    p.add_argument("--pos-tol", type=float)
    p.add_argument("--pos-quantile", type=float, default=0.9)
    p = sub.add_parser("ids")
    p.add_argument("--ref", required=True)
    p.add_argument("--got", required=True)
    p.add_argument("--case", required=True)
    p.add_argument("--summary")
    p.add_argument("--tol", type=float, default=3e-3, help="near-tie gap (default 3e-3, about twice the logit bound)")
    p = sub.add_parser("fail")
    p.add_argument("--case", required=True)
    p.add_argument("--what", required=True)
    p.add_argument("--summary")
    p = sub.add_parser("table")
    p.add_argument("--summary", required=True)
    a = ap.parse_args()
    sys.exit({"logits": cmd_logits, "ids": cmd_ids, "fail": cmd_fail, "table": cmd_table}[a.cmd](a))


if __name__ == "__main__":
    main()
