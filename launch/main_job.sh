#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): install what is
# missing, build, and run the paper's pipeline on the shipped Fashion-MNIST
# with 2 MPI ranks (launch/paper_pipeline.sh): LeNet ReLU baseline (5
# epochs) -> drop-in x/2 and fitted polynomials -> QuaIL (Quad) -> QuaIL+AMM
# -> AMM and MM inference, ending with the poster's table. The pipeline takes
# about 2.5 minutes on 2 cores (146 s, 2026-12-03), after the install and
# build. Re-running it reuses what is finished and prints the table again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
bash launch/build.sh
exec bash launch/paper_pipeline.sh 2 "$@"
