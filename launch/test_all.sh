#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit tests and the
# command-line tests of the real binary). `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
bash launch/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)"
