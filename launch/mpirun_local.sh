#!/usr/bin/env bash
# Data-parallel training on this machine: N ranks of `sisyphus train`.
#   launch/mpirun_local.sh 2 --net lenet --epochs 5
#   launch/mpirun_local.sh 4 --config configs/main_job.ini     (a --config goes first)
# Ranks share the cores: each gets cores/N torch threads unless --threads is
# given. More ranks than cores are allowed (--oversubscribe).
set -euo pipefail
N=${1:?usage: launch/mpirun_local.sh NRANKS [--config FILE] [train flags]}
shift
cd "$(dirname "$0")/.."
GLOBAL=()
if [[ "${1:-}" == --config ]]; then GLOBAL=(--config "$2"); shift 2; fi
source launch/env.sh
mapfile -t FWD < <(mpi_forward OMP_NUM_THREADS PATH LD_LIBRARY_PATH)
exec mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$N" "${FWD[@]}" \
  build/src/sisyphus "${GLOBAL[@]}" train --backend mpi "$@"
