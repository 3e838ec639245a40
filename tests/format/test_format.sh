#!/usr/bin/env bash
# The code form: every C++ source and header tracked by git is exactly what
# clang-format makes of it with the repository's .clang-format (Debian 12's
# clang-format 14, installed by launch/install_deps.sh).
# Usage: test_format.sh <repository root>
set -u
cd "$1" || exit 1
command -v clang-format >/dev/null || { echo "FAIL clang-format is not installed (launch/install_deps.sh installs it)"; exit 1; }
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  [[ ${CI:-} == true ]] && { echo "FAIL (CI=true: a skipped test fails) not a git checkout: no list of tracked files"; exit 1; }
  echo "SKIP not a git checkout: no list of tracked files"; exit 77
fi
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu')
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
echo "$(clang-format --version | head -1): ${#files[@]} files, ${#bad[@]} not in form"
if [[ ${#bad[@]} -gt 0 ]]; then
  for f in "${bad[@]}"; do echo "FAIL $f (fix: clang-format -i $f)"; done
  exit 1
fi
echo "ok   every file is in form"
