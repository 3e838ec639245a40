#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit tests, the
# command-line tests of the real binary, the multi-host cluster), then the
# short run of each libFuzzer target (launch/fuzz.sh, a clang build of its
# own). `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase's time is printed (the CI log shows where the time goes).
phase() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "test_all: $name took $((SECONDS - start)) s"
}
phase install bash launch/install_deps.sh
phase build bash launch/build.sh
phase ctest bash -c 'cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j"$(nproc)"'
phase fuzz bash launch/fuzz.sh
