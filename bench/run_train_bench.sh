#!/usr/bin/env bash
# Training throughput of sisyphus against the same training in Python PyTorch
# (the torch of launch/requirements.txt, the one sisyphus links), in one run, plus data loading measured alone.
#
# Usage: bench/run_train_bench.sh [BUILD_DIR] [REPEATS]
#   BUILD_DIR defaults to build/, REPEATS (default 3) alternates C++ and Python
#   runs so both see the same machine load; medians are reported.
# Workloads (batch 128, one torch thread each, the paper's SGD):
#   lenet    on the shipped Fashion-MNIST, one full epoch (469 steps)
#   lenet+eval  the same epoch followed by a test-set pass (10,000 images, batch
#            100) inside the timed span, as both trainers run every epoch;
#            images/s = training images / (training + evaluation seconds)
#   resnet20 on CIFAR-shaped data (real CIFAR-10 binary format, random pixels), 20 steps
#   loading alone: Fashion-MNIST epoch; CIFAR with crop+flip augmentation
set -euo pipefail
BUILD=${1:-build}
REPEATS=${2:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH="$BUILD/bench/sisyphus_bench_train"
source "$(dirname "$0")/../launch/env.sh"
PY=$SISYPHUS_PYTHON
FM=/usr/share/datasets/fashion-mnist
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
$PY "$HERE/make_cifar_like.py" "$WORK/cifar" 1024

rate() { grep -o 'images_per_s=[0-9.]*' | cut -d= -f2; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

run_pair() {  # name, C++ args, Python args
  local name=$1 cxx=$2 py=$3
  : > "$WORK/$name.cxx"; : > "$WORK/$name.py"; : > "$WORK/$name.tv"
  for ((i = 0; i < REPEATS; i++)); do
    $BENCH --mode train $cxx | rate >> "$WORK/$name.cxx"
    $PY "$HERE/reference_train.py" --pipeline tensor $py | rate >> "$WORK/$name.py"
    if [[ $name == lenet* ]]; then
      $PY "$HERE/reference_train.py" --pipeline torchvision $py | rate >> "$WORK/$name.tv"
    fi
  done
}

run_pair lenet "--net lenet --dataset fashion-mnist --threads 1 --steps 0" \
               "--net lenet --dataset fashion-mnist --data-dir $FM --threads 1 --steps 0"
run_pair lenet_eval "--net lenet --dataset fashion-mnist --threads 1 --steps 0 --eval" \
                    "--net lenet --dataset fashion-mnist --data-dir $FM --threads 1 --steps 0 --eval"
run_pair resnet20 "--net resnet20 --dataset cifar10 --data-dir $WORK/cifar --threads 1 --steps 20" \
                  "--net resnet20 --dataset cifar10 --data-dir $WORK/cifar --threads 1 --steps 20"
LOAD_FM=$($BENCH --mode load --net lenet --dataset fashion-mnist --steps 0 | rate)
LOAD_CIFAR=$($BENCH --mode load --net resnet20 --dataset cifar10 --data-dir "$WORK/cifar" --augment --steps 0 | rate)

L_CXX=$(median < "$WORK/lenet.cxx"); L_PY=$(median < "$WORK/lenet.py"); L_TV=$(median < "$WORK/lenet.tv")
E_CXX=$(median < "$WORK/lenet_eval.cxx"); E_PY=$(median < "$WORK/lenet_eval.py"); E_TV=$(median < "$WORK/lenet_eval.tv")
R_CXX=$(median < "$WORK/resnet20.cxx"); R_PY=$(median < "$WORK/resnet20.py")
echo "== training throughput, images/s (median of $REPEATS, 1 thread, batch 128) =="
printf "%-10s %12s %14s %18s %10s %10s\n" workload sisyphus python-tensor python-torchvision ratio-tensor ratio-tv
printf "%-10s %12.1f %14.1f %18.1f %10.2f %10.2f\n" lenet "$L_CXX" "$L_PY" "$L_TV" \
  "$(div $L_CXX $L_PY)" "$(div $L_CXX $L_TV)"
printf "%-10s %12.1f %14.1f %18.1f %10.2f %10.2f\n" lenet+eval "$E_CXX" "$E_PY" "$E_TV" \
  "$(div $E_CXX $E_PY)" "$(div $E_CXX $E_TV)"
printf "%-10s %12.1f %14.1f %18s %10.2f %10s\n" resnet20 "$R_CXX" "$R_PY" "-" "$(div $R_CXX $R_PY)" "-"
echo "all runs (sisyphus | python-tensor | python-torchvision):"
for n in lenet lenet_eval resnet20; do echo "  $n: $(tr '\n' ' ' < "$WORK/$n.cxx")| $(tr '\n' ' ' < "$WORK/$n.py")| $(tr '\n' ' ' < "$WORK/$n.tv")"; done
echo "== data loading alone, images/s (background loader, no model) =="
printf "fashion-mnist epoch: %.0f  (%.1fx the lenet training rate)\n" "$LOAD_FM" "$(div $LOAD_FM $L_CXX)"
printf "cifar crop+flip:     %.0f  (%.1fx the resnet20 training rate)\n" "$LOAD_CIFAR" "$(div $LOAD_CIFAR $R_CXX)"
