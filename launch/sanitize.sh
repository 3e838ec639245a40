#!/usr/bin/env bash
# The test suite under sanitizers (docs/reliability.md has the last results):
#   launch/sanitize.sh address   every test, built with AddressSanitizer and
#                                UndefinedBehaviorSanitizer, in build-asan
#   launch/sanitize.sh thread    the distributed tests (collectives, reducer,
#                                mpirun training, the loader threads) with
#                                ThreadSanitizer, in build-tsan
# Extra arguments go to ctest (e.g. -R cli). LibTorch, Open MPI and HDF5 are the
# shipped, uninstrumented libraries: reports come from our code's accesses.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# GCC 12's sanitizers, as docs/reliability.md's results were measured (build.sh
# would take clang where installed)
export CC=${CC:-gcc} CXX=${CXX:-g++}
kind=${1:?usage: launch/sanitize.sh address|thread [ctest args]}
shift
case $kind in
  address)
    export BUILD_DIR=${BUILD_DIR:-build-asan}
    export CMAKE_ARGS="-DSISYPHUS_SANITIZE=address,undefined ${CMAKE_ARGS:-}"
    # Leaks are not checked: Open MPI and LibTorch keep process-lifetime
    # allocations that LeakSanitizer reports at exit (the fuzz targets check
    # leaks per input instead). Open MPI's own mpirun is not instrumented.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:halt_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    tests=${SANITIZE_TESTS:-.}
    ;;
  thread)
    export BUILD_DIR=${BUILD_DIR:-build-tsan}
    export CMAKE_ARGS="-DSISYPHUS_SANITIZE=thread ${CMAKE_ARGS:-}"
    export BUILD_TARGET=${BUILD_TARGET:-tsan_targets}
    # Interceptor calls (memcpy, ...) from uninstrumented libraries (LibTorch's
    # OpenMP workers, Open MPI's progress thread) are ignored: their
    # synchronisation is invisible to TSan, so they would only give false reports.
    export TSAN_OPTIONS=${TSAN_OPTIONS:-ignore_noninstrumented_modules=1:halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/tests/support/tsan.supp}
    tests=${SANITIZE_TESTS:-^(mpi_np2|mpi_np4|mpirun_training)$}
    ;;
  *) echo "launch/sanitize.sh: unknown kind '$kind' (address or thread)" >&2; exit 2 ;;
esac
bash launch/build.sh
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)" -R "$tests" "$@"
