# Sourced by the e2e scripts that start mla under mpirun (mpi_pipeline.sh, mpi_experts.sh,
# mpi_serve.sh): exits 77 (CTest: skipped) without mpirun, and sets up Open MPI for this machine and
# the sanitizers. Also compare_logits and split_vs_one_process, for the scripts that compare a
# split run with one process.
if ! command -v mpirun > /dev/null; then
  echo "SKIP: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"
  exit 77
fi
# Open MPI refuses root without these; containers often lack ptrace for the shared-memory
# single-copy path. In the ASan build, leak checking is off here (memory errors are still caught):
# Open MPI keeps allocations until exit and unloads its plugins at MPI_Finalize, so LeakSanitizer
# reports them from "<unknown module>" frames that no suppression can name. Every command run
# without mpirun never initializes MPI and is leak-checked by the other tests.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# compare_logits A B: two float32 logit files, same size, max |a - b| <= 1e-5 x max |a|.
compare_logits() {
  "${PYTHON:-/usr/bin/python3}" - "$1" "$2" <<'PY'
import sys
import numpy as np
a, b = (np.fromfile(p, dtype=np.float32).astype(np.float64) for p in sys.argv[1:3])
if a.size == 0 or a.size != b.size:
    sys.exit(f"sizes differ: {a.size} vs {b.size}")
d, scale = np.abs(a - b).max(), np.abs(a).max()
print(f"max|d| {d:.3e} (max|logit| {scale:.3f})")
sys.exit(0 if d <= 1e-5 * scale else 1)
PY
}

# split_vs_one_process NAME CK ATTN MODE [SPLIT ARGS...]: `mla eval` of $TOKENS (prefill, or
# --decode when MODE is decode) on checkpoint CK as one process and under `${MPIRUN[@]} -np 2` and
# `-np 3` with the split arguments; each split run's logits must equal one process's
# (compare_logits). Reports through the caller's `fail`; files go to $W/NAME.ATTN.MODE.*. Exits 77
# when the first split run says mla was built without MPI.
MPI_FIRST_RUN=1
split_vs_one_process() {
  local name=$1 ck=$2 attn=$3 mode=$4 flag=() np rc out
  shift 4
  [ "$mode" = decode ] && flag=(--decode)
  local base="$W/$name.$attn.$mode" eval_args=(eval --model "$ck" --threads 1 --attn "$attn" --tokens "$TOKENS")
  "$MLA_BIN" "${eval_args[@]}" "${flag[@]}" --logits-out "$base.np1.bin" 2> "$base.np1.err" ||
    { fail "$name $attn $mode: mla eval: $(cat "$base.np1.err")"; return; }
  for np in 2 3; do
    "${MPIRUN[@]}" -np "$np" "$MLA_BIN" "${eval_args[@]}" "${flag[@]}" "$@" --logits-out "$base.np$np.bin" \
      > "$base.np$np.log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] && [ $MPI_FIRST_RUN = 1 ] && grep -q "built without MPI" "$base.np$np.log"; then
      echo "SKIP: $MLA_BIN was built without MPI"
      exit 77
    fi
    MPI_FIRST_RUN=0
    if [ $rc -ne 0 ]; then
      fail "$name $attn $mode -np $np: exit $rc: $(tail -5 "$base.np$np.log")"
    elif out=$(compare_logits "$base.np1.bin" "$base.np$np.bin" 2>&1); then
      echo "ok   $name $attn $mode -np $np: $out"
    else
      fail "$name $attn $mode -np $np: $out"
    fi
  done
}
