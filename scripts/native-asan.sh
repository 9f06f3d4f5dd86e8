#!/usr/bin/env bash
# The native tests (test/native/*.cc: native/nl, native/rtnl and native/nft when present) built
# with AddressSanitizer + UndefinedBehaviorSanitizer and run; fails on any test failure and on any
# sanitizer report. Plain CMake, no Node, no root.
#
#   bash scripts/native-asan.sh          (npm run native:asan)
#   NK_ASAN_DIR=/tmp/x bash scripts/native-asan.sh     # another build directory
#   CXX=clang++ bash scripts/native-asan.sh            # another compiler
set -euo pipefail
cd "$(dirname "$0")/.."

build=${NK_ASAN_DIR:-build-asan}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DNK_SANITIZE=ON -DNK_ADDON=OFF -DNK_TESTS=ON -DNK_FUZZ=OFF >/dev/null
cmake --build "$build" -j "${NK_JOBS:-2}"

# halt_on_error: the first report ends the run with a failure (UBSan otherwise only prints).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="exitcode=88${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

log="$build/native-tests.log"
set +e
"$build/nk_native_tests" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$log"; then
  echo "native-asan: sanitizer report (see $log)" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "native-asan: nk_native_tests exited with $status (see $log)" >&2
  exit "$status"
fi
echo "native-asan: no sanitizer report"
