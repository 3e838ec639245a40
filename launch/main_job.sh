#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): install what is
# missing, build, and train the paper's LeNet (BN, average pooling) ReLU
# baseline on the shipped Fashion-MNIST for 5 epochs with the paper's
# optimizer settings. Re-running it resumes (or just reports) the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
bash launch/build.sh
exec build/src/sisyphus --config configs/main_job.ini train --threads "$(nproc)" --resume "$@"
