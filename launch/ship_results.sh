#!/usr/bin/env bash
# The networks behind docs/results.md's headline rows, trained, folded and shipped in
# checkpoints/results/ so that anyone can check them (tests/results/test_shipped.sh does):
#   launch/ship_results.sh WORKDIR [NET ...]     (default: lenet resnet20 resnet32 mobilenet)
# Each NET runs launch/beyond_study.sh in WORKDIR (resumable: re-run the same command), then its
# folded networks are copied to checkpoints/results/NET-METHOD.h5 and their rows (accuracy,
# non-finite test images, bounded, largest max |x|, cost) written to checkpoints/results/results.csv
# with the command and the commit that trained them. Budgets (stated in docs/results.md):
#   lenet      all 60,000 training images, 5 epochs, 1 epoch per QuaIL stage
#   resnet20, resnet32, mobilenet: the first 6,000 training images, 5 epochs, 1 epoch per stage
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:?usage: ship_results.sh WORKDIR [NET ...]}; shift
NETS=("$@"); ((${#NETS[@]})) || NETS=(lenet resnet20 resnet32 mobilenet)
OUT=checkpoints/results
CSV=$OUT/results.csv
# the commit whose code trains the networks; SHIP_COMMIT names it when this script runs again
# later only to collect (the study skips what has finished, and re-evaluates it)
commit=${SHIP_COMMIT:-$(git rev-parse --short=12 HEAD)}
[[ -n ${SHIP_COMMIT:-} ]] || git diff --quiet HEAD -- src launch || commit="$commit+changes"
mkdir -p "$WORK" "$OUT"
[[ -f $CSV ]] || echo "file,net,method,accuracy,nonfinite,bounded,max_abs,levels,ct_ct,pt_ct,commit,command" > "$CSV"

for net in "${NETS[@]}"; do
  case $net in
    lenet) args=(--epochs 5 --threads 1); methods="relu quail-amm blend-herpn" ;;
    resnet20 | resnet32) args=(--epochs 5 --train-limit 6000 --threads 1)
      methods="relu quail-amm blend-herpn-peak blend-herpn-peak-tuned" ;;
    mobilenet) args=(--epochs 5 --train-limit 6000 --threads 1); methods="relu blend-herpn blend-herpn-tuned-bounded" ;;
    *) echo "ship_results.sh: no shipping plan for '$net'" >&2; exit 2 ;;
  esac
  cmd="CHECKPOINT_DIR=$WORK bash launch/beyond_study.sh $net ${args[*]} --prefix ship --methods \"$methods\""
  echo "== $cmd"
  CHECKPOINT_DIR=$WORK bash launch/beyond_study.sh "$net" "${args[@]}" --prefix ship --methods "$methods"
  study=$WORK/ship-$net-study.csv
  for m in $methods; do
    [[ $m == *-peak && $methods == *"$m-tuned"* ]] && continue  # shipped: the tuned network it leads to
    [[ $m == blend-herpn && $methods == *"$m-tuned-bounded"* ]] && continue
    row=$(grep "^$m," "$study") || { echo "ship_results.sh: no row for $m in $study" >&2; exit 1; }
    IFS=, read -r _ _ acc nonfinite bounded largest levels ctct ptct <<<"$row"
    [[ -n $acc ]] || { echo "ship_results.sh: $net $m escaped in training: nothing to ship" >&2; continue; }
    file=$net-$m.h5
    cp "$WORK/ship-$net-$m-folded.h5" "$OUT/$file"
    sed -i "/^$file,/d" "$CSV"
    echo "$file,$net,$m,$acc,$nonfinite,$bounded,$largest,$levels,$ctct,$ptct,$commit,$cmd" >> "$CSV"
  done
done
column -s, -t "$CSV" | cut -c1-160
