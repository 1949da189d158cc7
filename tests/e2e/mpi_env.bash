# Sourced by the e2e scripts that start mla under mpirun (mpi_pipeline.sh, mpi_experts.sh,
# mpi_serve.sh): exits 77 (CTest: skipped) without mpirun, and sets up Open MPI for this machine and
# the sanitizers. Also compare_logits, for the scripts that compare a split run with one process.
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
