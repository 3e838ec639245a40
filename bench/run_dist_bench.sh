#!/usr/bin/env bash
# Data-parallel CPU training: sisyphus (MPI backend, 2 ranks, one torch thread
# each) against PyTorch DDP with gloo (the torch of launch/requirements.txt, the one sisyphus links) on the same
# model, batch per rank and data, in one run; scaling vs one rank; the
# reducer's all-reduce bandwidth vs a raw MPI_Allreduce of the same bytes;
# the share of communication hidden behind the backward pass; two
# independent 1-rank runs side by side as the machine's ceiling for 2 ranks.
# Usage: bench/run_dist_bench.sh [BUILD_DIR] [REPEATS] [NET] [STEPS]
set -euo pipefail
BUILD=${1:-build}
REPEATS=${2:-3}
NET=${3:-lenet}
STEPS=${4:-200}
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH="$BUILD/bench/sisyphus_bench_train"
source "$(dirname "$0")/../launch/env.sh"
PY=$SISYPHUS_PYTHON
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [[ $NET == lenet ]]; then
  DATA=(--dataset fashion-mnist); PYDATA=(--dataset fashion-mnist --data-dir /usr/share/datasets/fashion-mnist)
else
  $PY "$HERE/make_cifar_like.py" "$WORK/cifar" 2048
  DATA=(--dataset cifar10 --data-dir "$WORK/cifar"); PYDATA=(--dataset cifar10 --data-dir "$WORK/cifar")
fi
COMMON=(--net "$NET" --threads 1 --batch-size 128 --steps "$STEPS")
field() { grep -o "$1=[0-9.]*" | head -1 | cut -d= -f2; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }

for ((i = 0; i < REPEATS; i++)); do
  "${MPIRUN[@]}" -np 2 "$BENCH" --mode train "${COMMON[@]}" "${DATA[@]}" > "$WORK/t2"
  field images_per_s < "$WORK/t2" >> "$WORK/sis2"
  field exposed_wait_ms < "$WORK/t2" >> "$WORK/wait"
  field step_ms < "$WORK/t2" >> "$WORK/step2"
  # DDP as users run it, and with sisyphus's malloc settings (core/alloc.h)
  for variant in ddp ddp_malloc; do
    extra=()
    [[ $variant == ddp_malloc ]] && extra=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824)
    for r in 0 1; do
      env "${extra[@]}" RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29533 \
        $PY "$HERE/reference_ddp.py" --net "$NET" --threads 1 --batch-size 128 --steps "$STEPS" "${PYDATA[@]}" > "$WORK/ddp$r" &
    done
    wait
    field images_per_s < "$WORK/ddp0" >> "$WORK/$variant"
  done
  "$BENCH" --mode train "${COMMON[@]}" "${DATA[@]}" | field images_per_s >> "$WORK/sis1"
  # the machine's own ceiling for two ranks: two independent 1-rank runs side by side
  "$BENCH" --mode train "${COMMON[@]}" "${DATA[@]}" > "$WORK/pa" &
  "$BENCH" --mode train "${COMMON[@]}" "${DATA[@]}" > "$WORK/pb"
  wait
  awk -v a="$(field images_per_s < "$WORK/pa")" -v b="$(field images_per_s < "$WORK/pb")" 'BEGIN { print a + b }' >> "$WORK/pair"
  "${MPIRUN[@]}" -np 2 "$BENCH" --mode reduce "${COMMON[@]}" "${DATA[@]}" > "$WORK/red"
  field step_ms < "$WORK/red" >> "$WORK/red_ms"; field MBps < "$WORK/red" >> "$WORK/red_bw"
  "${MPIRUN[@]}" -np 2 "$BENCH" --mode raw "${COMMON[@]}" "${DATA[@]}" > "$WORK/raw"
  field MBps < "$WORK/raw" >> "$WORK/raw_bw"
done

S2=$(median < "$WORK/sis2"); S1=$(median < "$WORK/sis1"); PAIR=$(median < "$WORK/pair")
D0=$(median < "$WORK/ddp"); DM=$(median < "$WORK/ddp_malloc")
D=$(awk -v a="$D0" -v b="$DM" 'BEGIN { print (a > b) ? a : b }')  # the faster DDP variant
WAIT=$(median < "$WORK/wait")
RED_MS=$(median < "$WORK/red_ms"); RED_BW=$(median < "$WORK/red_bw"); RAW_BW=$(median < "$WORK/raw_bw")
BYTES=$(field bytes_per_step < "$WORK/red")
echo "== $NET, batch 128 per rank, one torch thread per rank, median of $REPEATS =="
printf "sisyphus 2 ranks (MPI):      %8.1f img/s\n" "$S2"
printf "PyTorch DDP 2 ranks (gloo):  %8.1f img/s   (with sisyphus's malloc settings: %.1f)\n" "$D0" "$DM"
printf "ratio vs the faster DDP:     %8.2f (target >= 1.1)\n" "$(div "$S2" "$D")"
printf "sisyphus 1 rank:             %8.1f img/s   scaling efficiency %.2f (target >= 0.9)\n" "$S1" "$(div "$S2" "$(div "$S1" 0.5)")"
printf "two 1-rank runs side by side: %7.1f img/s together (the machine's ceiling); 2 ranks reach %.2f of it\n" "$PAIR" "$(div "$S2" "$PAIR")"
printf "reducer alone: %s bytes/step in %.3f ms = %.1f MB/s; raw MPI_Allreduce %.1f MB/s; ratio %.2f (target >= 0.9)\n" \
  "$BYTES" "$RED_MS" "$RED_BW" "$RAW_BW" "$(div "$RED_BW" "$RAW_BW")"
printf "exposed all-reduce wait in training: %.3f ms/step of %.3f ms standalone: %.0f%% hidden behind backward\n" \
  "$WAIT" "$RED_MS" "$(awk -v w="$WAIT" -v r="$RED_MS" 'BEGIN { h = 100 * (1 - w / r); print (h < 0 ? 0 : h) }')"
echo "all runs: sisyphus-2 $(tr '\n' ' ' < "$WORK/sis2")| ddp $(tr '\n' ' ' < "$WORK/ddp")| ddp-malloc $(tr '\n' ' ' < "$WORK/ddp_malloc")| sisyphus-1 $(tr '\n' ' ' < "$WORK/sis1")| pair $(tr '\n' ' ' < "$WORK/pair")"
echo "          reducer MB/s $(tr '\n' ' ' < "$WORK/red_bw")| raw MB/s $(tr '\n' ' ' < "$WORK/raw_bw")| exposed ms $(tr '\n' ' ' < "$WORK/wait")"
