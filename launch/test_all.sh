#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit tests, the
# command-line tests of the real binary, the multi-host cluster), then the
# short run of each libFuzzer target (launch/fuzz.sh, a clang build of its
# own). `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
bash launch/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j"$(nproc)")
bash launch/fuzz.sh
