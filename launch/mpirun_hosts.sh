#!/usr/bin/env bash
# Data-parallel training on several nodes listed in an Open MPI hostfile
# ("node1 slots=8" per line). The build and the data must be at the same
# path on every node (a shared file system); rank 0 writes the checkpoints.
#   launch/mpirun_hosts.sh hosts.txt 16 --net resnet18 --dataset cifar10
# GPUs: one rank per GPU (slots = GPUs per node), NCCL picked automatically
# (--backend auto); each rank takes GPU local_rank % GPUs.
# Environment: SISYPHUS_BIN (default build/src/sisyphus), and Open MPI's own
# OMPI_MCA_* settings (OMPI_MCA_btl_tcp_if_include=eth0 to pick the network,
# OMPI_MCA_plm_rsh_agent for another remote shell than ssh).
set -euo pipefail
HOSTFILE=${1:?usage: launch/mpirun_hosts.sh HOSTFILE NRANKS [train flags]}
N=${2:?usage: launch/mpirun_hosts.sh HOSTFILE NRANKS [train flags]}
shift 2
cd "$(dirname "$0")/.."
source launch/env.sh
mapfile -t FWD < <(mpi_forward PATH LD_LIBRARY_PATH OMP_NUM_THREADS NCCL_DEBUG NCCL_SOCKET_IFNAME)
exec mpirun --hostfile "$HOSTFILE" -np "$N" \
  -bind-to none -map-by slot "${FWD[@]}" \
  -mca pml ob1 -mca btl ^openib \
  "${SISYPHUS_BIN:-$PWD/build/src/sisyphus}" train "$@"
