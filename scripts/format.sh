#!/usr/bin/env bash
# Formats the TypeScript (prettier, .prettierrc.json) and the C/C++ (clang-format, .clang-format)
# sources git tracks. `--check`: changes nothing, fails when a file is not formatted.
#   npm run format        npm run format:check
# CI runs the check (pretest: npm run format:check); .ci/run installs clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
check=${1:-}
mapfile -t ts < <(git ls-files '*.ts')
mapfile -t cc < <(git ls-files 'native/*.cc' 'native/*.h' 'native/*.c' 'test/native/*.cc' 'test/native/*.h' 'test/fuzz/*.cc')
if [ "$check" = --check ]; then
  npx prettier --check "${ts[@]}"
else
  npx prettier --write --log-level warn "${ts[@]}"
fi
if ! command -v clang-format >/dev/null 2>&1; then
  echo 'format: clang-format not found (apt-get install clang-format): C/C++ sources skipped' >&2
  exit 0
fi
if [ "$check" = --check ]; then
  clang-format --dry-run --Werror "${cc[@]}"
else
  clang-format -i "${cc[@]}"
fi
