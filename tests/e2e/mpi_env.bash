# Sourced by the e2e scripts that start mla under mpirun (mpi_pipeline.sh, mpi_serve.sh): exits 77
# (CTest: skipped) without mpirun, and sets up Open MPI for this machine and the sanitizers.
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
