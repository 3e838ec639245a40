#!/usr/bin/env bash
# Submits the paper's table: one array task per network
# (slurm/paper_table.sbatch) and the job that collects the table once every
# task has ended (slurm/paper_table_collect.sbatch, afterany). Settings: the
# SISYPHUS_* and CHECKPOINT_DIR variables those scripts document; extra
# arguments go to both sbatch calls (e.g. --partition gpu).
#   SISYPHUS_DATASET=cifar10 launch/submit_paper_table.sh --gres=gpu:2
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a NETS <<< "${SISYPHUS_NETS:-alexnet vgg11 vgg16 resnet18 mobilenet resnet32}"
array=$(sbatch --parsable --array=0-$((${#NETS[@]} - 1)) "$@" slurm/paper_table.sbatch)
collect=$(sbatch --parsable --dependency=afterany:"$array" "$@" slurm/paper_table_collect.sbatch)
echo "array job $array (${NETS[*]}), collecting job $collect"
