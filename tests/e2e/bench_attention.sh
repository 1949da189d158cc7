#!/usr/bin/env bash
# End-to-end: `mla bench attention` on a short cache prints its ceilings and one row per variant and
# cache dtype asked for; a bad cache dtype exits 1 with one "mla: error:" line.
#
# Environment: MLA_BIN (the mla binary).
set -u

: "${MLA_BIN:?MLA_BIN must point at the mla binary}"

failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=1
}

out=$("$MLA_BIN" bench attention --context 256 --rounds 1 --kv-types bf16,fp8 --block-tokens 16 2>/dev/null) ||
  fail "bench attention exited $?"
echo "$out"
grep -q "read .* GB/s, f32 FMA peak .* GFLOP/s" <<<"$out" || fail "no ceilings line"
for dt in bf16 fp8; do
  for v in "mla-absorbed +16 +1" "mla-absorbed +128 +1" "mha +16 +16" "gqa +16 +4"; do
    grep -Eq "^$v +$dt .*%\$" <<<"$out" || fail "no row for '$v' $dt"
  done
done
[ "$(grep -c '%$' <<<"$out")" -eq 8 ] || fail "expected 8 rows"

err=$("$MLA_BIN" bench attention --kv-types bf17 2>&1 >/dev/null)
[ $? -eq 1 ] || fail "bad --kv-types did not exit 1"
[ "$(grep -c '^mla: error:' <<<"$err")" -eq 1 ] || fail "bad --kv-types: expected one error line, got: $err"

[ $failed -eq 0 ] && echo "bench_attention: all checks passed"
exit $failed
