#!/usr/bin/env bash
# The poster's table from results CSVs of launch/paper_pipeline.sh (one row
# per network): test accuracy %, [non-finite outputs].
#   launch/paper_table.sh NET=RESULTS.csv [NET=RESULTS.csv ...]
# The best drop-in fit is chosen per network among its poly-* rows; the
# header names it when every network's is the same, else each cell does.
set -euo pipefail
(($#)) || { echo "usage: paper_table.sh NET=RESULTS.csv ..." >&2; exit 2; }
nets=() files=()
for arg in "$@"; do nets+=("${arg%%=*}"); files+=("${arg#*=}"); done
# the label is the first field; accuracy and non-finite count are the 4th and
# 3rd from the end (fields in between may be quoted and hold commas)
awk -F, -v names="${nets[*]}" '
  FNR == 1 { n++; next }
  { acc[n, $1] = ($(NF-3) == "nan") ? "escaped" : sprintf("%.2f", 100 * $(NF-3)); nf[n, $1] = $(NF-2); seen[n, $1] = 1
    if ($1 ~ /^poly-/ && (!(n in best) || acc[n, $1] + 0 > acc[n, best[n]] + 0)) best[n] = $1 }
  function cell(i, k) { if (!((i, k) in seen)) return "-"; return (nf[i, k] > 0) ? acc[i, k] " [" nf[i, k] "]" : acc[i, k] }
  END {
    split(names, net, " ")
    same = 1; for (i = 2; i <= n; i++) if (best[i] != best[1]) same = 0
    printf "| network | ReLU baseline | drop-in x/2 | drop-in best fit (%s) | QuaIL | QuaIL+AMM | QuaIL+MM |\n",
           same ? (1 in best ? best[1] : "-") : "per network"
    printf "|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= n; i++) {
      fit = (i in best) ? cell(i, best[i]) (same ? "" : " (" best[i] ")") : "-"
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", net[i], cell(i, "relu"), cell(i, "taylor"), fit,
             cell(i, "quail"), cell(i, "quail+amm"), cell(i, "quail+mm")
    }
  }' "${files[@]}"
