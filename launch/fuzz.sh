#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz; clang with AddressSanitizer and
# UndefinedBehaviorSanitizer) into ${FUZZ_BUILD_DIR:-build-fuzz} and runs them.
#   launch/fuzz.sh            build, then the short run of each (ctest, 20 s)
#   launch/fuzz.sh long SECS  build, then each target SECS seconds in turn;
#                             new inputs are merged (minimised) into the kept
#                             corpus tests/fuzz/corpus/<name>, the figures
#                             (executions, exec/s) go to <build>/fuzz-long/
# The test command (launch/test_all.sh) runs the short form.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
export CC=clang CXX=clang++
export CMAKE_ARGS="-DSISYPHUS_FUZZ=ON -DSISYPHUS_SANITIZE=address,undefined -DSISYPHUS_BUILD_TESTS=OFF ${CMAKE_ARGS:-}"
export BUILD_TARGET=fuzz_all
bash launch/build.sh
cd "$BUILD_DIR"
if [[ ${1:-} != long ]]; then
  exec ctest --output-on-failure -j"$(nproc)" -R '^fuzz_'
fi
SECS=${2:-600}
mkdir -p fuzz-long
for bin in fuzz_idx fuzz_cifar fuzz_jpeg fuzz_tiny_pack fuzz_checkpoint fuzz_trace fuzz_config; do
  name=${bin#fuzz_}
  kept=$ROOT/tests/fuzz/corpus/$name
  rm -rf "fuzz-long/$name.new" && mkdir -p "fuzz-long/$name.new"
  FUZZ_FINDINGS=$PWD/fuzz-findings bash "$ROOT/tests/fuzz/run_fuzz.sh" "tests/fuzz/$bin" "$kept" "$SECS" \
    "fuzz-long/$name.new" | tee "fuzz-long/$name.log" || echo "$bin: FINDING (fuzz-findings/)"
  # Keep only the new inputs that add coverage to the kept corpus.
  "tests/fuzz/$bin" -merge=1 "$kept" "fuzz-long/$name.new" >"fuzz-long/$name.merge.log" 2>&1
  grep -E "MERGE-OUTER: [0-9]+ new files" "fuzz-long/$name.merge.log" | sed "s/^/$bin /"
done
