#!/usr/bin/env bash
# One folded (deployable) network on its test set, as docs/results.md's "beyond" tables report it:
#   launch/evaluate_folded.sh CHECKPOINT LABEL TRACE [eval flags, e.g. --threads 1 --data-dir D]
# prints one line "ACCURACY NONFINITE BOUNDED LARGEST": the test accuracy in %, the test images
# whose logits are NaN/Inf, "bounded" or "escaping", and the largest max |x| over the traced
# points ("Inf" when one is NaN/Inf). The evaluation is appended to TRACE under LABEL.
# bounded: no NaN/Inf, no escaping profile (trace summary's verdict) on the whole test set, and
# every point's max |x| below 1e6.
set -euo pipefail
ckpt=${1:?usage: evaluate_folded.sh CHECKPOINT LABEL TRACE [eval flags]}
label=${2:?label}
trace=${3:?trace file}
shift 3
BIN=${SISYPHUS_BIN:-build/src/sisyphus}
ev=$("$BIN" eval --checkpoint "$ckpt" --trace "$trace" --label "$label" "$@" 2>&1 | grep "^eval:.*test accuracy" | tail -1) || true
acc=$(grep -oE "test accuracy [0-9.]+%" <<<"$ev" | grep -oE "[0-9.]+") || true
nonfinite=$(grep -oE "[0-9]+ non-finite" <<<"$ev" | grep -oE "[0-9]+") || true
[[ -n $acc && -n $nonfinite ]] || { echo "evaluate_folded.sh: evaluating '$ckpt' failed" >&2; exit 1; }
read -r bounded largest < <("$BIN" trace summary "$trace" | awk -v s="$label: last evaluation" '
  index($0, s) == 1 {on = 1; next}
  on && /verdict:/ {print (($0 ~ /bounded/ && big < 1e6) ? "bounded" : "escaping"), (big >= 1e308 ? "Inf" : big); exit}
  on && $1 ~ /^[0-9]+$/ {v = ($3 == "NaN" || $3 == "Inf") ? 1e308 : $3 + 0; if (v > big) big = v}')
((nonfinite == 0)) || bounded=escaping
echo "$acc $nonfinite $bounded $largest"
