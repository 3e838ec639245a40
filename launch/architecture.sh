#!/usr/bin/env bash
# The picture of the layers (docs/figures/architecture.png), generated from the CMake targets:
# `cmake --graphviz` of the project's libraries and the sisyphus executable (tests, benchmarks,
# fuzz targets and external libraries left out), drawn with graphviz's dot.
#   launch/architecture.sh [OUT.png]        (needs graphviz: apt-get install graphviz)
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/env.sh
OUT=${1:-docs/figures/architecture.png}
command -v dot > /dev/null || { echo "architecture.sh: graphviz's dot is not installed (apt-get install graphviz)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/CMakeGraphVizOptions.cmake" <<'OPTS'
set(GRAPHVIZ_GRAPH_NAME "sisyphus: libraries link one way (an arrow: links to)")
set(GRAPHVIZ_EXTERNAL_LIBS FALSE)
set(GRAPHVIZ_GENERATE_PER_TARGET FALSE)
set(GRAPHVIZ_GENERATE_DEPENDERS FALSE)
set(GRAPHVIZ_IGNORE_TARGETS "^test_;^fuzz_;_test_support$;bench;_pch$;^dummy$;protobuf")
OPTS
TORCH_PREFIX=${TORCH_PREFIX:-$("$SISYPHUS_PYTHON" -c 'import torch;print(torch.utils.cmake_prefix_path)')}
cmake -S . -B "$WORK" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$TORCH_PREFIX" \
  "-DSISYPHUS_PYTHON=$SISYPHUS_PYTHON" -DSISYPHUS_BUILD_TESTS=OFF --graphviz="$WORK/arch.dot" > "$WORK/log" 2>&1 \
  || { cat "$WORK/log" >&2; exit 1; }
# without CMake's legend; the targets' names without the common prefix
awk '/subgraph clusterLegend/ {skip = 1} skip && /^ *}/ {skip = 0; next} !skip' "$WORK/arch.dot" \
  | sed -e 's/"sisyphus_\([a-z0-9_]*\)"/"\1"/' > "$WORK/arch2.dot"
dot -Tpng -Gdpi=110 "$WORK/arch2.dot" -o "$OUT"
echo "architecture.sh: $OUT"
