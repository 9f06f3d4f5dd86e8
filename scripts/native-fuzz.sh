#!/usr/bin/env bash
# A bounded fuzzing run of test/fuzz/rtnl_fuzz.cc (attribute parser, message splitting, acks,
# link/addr/route/neigh decoders, inet_diag replies, notifications) under ASan + UBSan. With
# clang: libFuzzer, coverage-guided; without: the deterministic random-input driver
# (test/fuzz/standalone_driver.cc). Not part of npm test.
# Seeds: every netlink message in test/fixtures/rtnl/ and test/fixtures/diag/ (the kernel's
# replies, iproute2's and ss's requests). Exits non-zero on a crash or sanitizer report;
# libFuzzer leaves the input that caused it in build-fuzz/artifacts/.
#
#   bash scripts/native-fuzz.sh [SECONDS]        (npm run native:fuzz; default 60 s)
#   NK_FUZZ_DRIVER=standalone bash scripts/native-fuzz.sh 30     # the driver even where clang is
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
build=${NK_FUZZ_DIR:-build-fuzz}
mkdir -p "$build"

if [ "${NK_FUZZ_DRIVER:-}" != standalone ] && command -v clang++ >/dev/null && command -v clang >/dev/null; then
  mode=libfuzzer
  CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DNK_FUZZ=ON -DNK_TESTS=OFF -DNK_ADDON=OFF >/dev/null
else
  mode=standalone
  [ "${NK_FUZZ_DRIVER:-}" = standalone ] || echo "native-fuzz: clang++ not found (apt-get install -y clang for libFuzzer): using the random-input driver" >&2
  build=${NK_FUZZ_DIR:-build-fuzz-standalone}
  mkdir -p "$build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DNK_FUZZ=ON -DNK_TESTS=OFF -DNK_ADDON=OFF >/dev/null
fi
cmake --build "$build" -j "${NK_JOBS:-2}" --target nk_fuzz_rtnl

# Seeds: one file per netlink message in the strace dumps (" | 00000  hex..." lines, each
# datagram split by nlmsg_len).
seeds="$build/seeds"
rm -rf "$seeds"
mkdir -p "$seeds" "$build/corpus" "$build/artifacts"
perl -e '
  my ($dir, @files) = @ARGV; my $n = 0;
  for my $f (@files) {
    open(my $in, "<", $f) or die; my @dg; my $cur;
    while (<$in>) {
      if (/^ \* \d+ bytes in buffer/) { push @dg, ""; $cur = \$dg[-1]; next }
      if (defined $cur && /^ \| [0-9a-f]{5}  (.{48})/) { (my $h = $1) =~ s/\s+//g; $$cur .= pack("H*", $h); next }
      undef $cur;
    }
    for my $d (@dg) {
      my $off = 0;
      while ($off + 16 <= length $d) {
        my $len = unpack("V", substr($d, $off, 4));
        last if $len < 16 || $off + $len > length $d;
        open(my $out, ">", sprintf("%s/seed-%05d", $dir, $n++)) or die; binmode $out;
        print $out substr($d, $off, $len); close $out;
        $off += ($len + 3) & ~3;
      }
    }
  }
  print STDERR "native-fuzz: $n seeds\n";
' "$seeds" test/fixtures/rtnl/*.txt test/fixtures/diag/*.txt

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
log="$build/fuzz.log"
set +e
if [ "$mode" = libfuzzer ]; then
  "$build/nk_fuzz_rtnl" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/" "$build/corpus" "$seeds" 2>&1 | tee "$log" | grep -vE '^#[0-9]+\s+(NEW|REDUCE|pulse)'
else
  "$build/nk_fuzz_rtnl" "$seconds" "$seeds" "$build/corpus" 2>&1 | tee "$log"
fi
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ] || grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|deadly signal' "$log"; then
  echo "native-fuzz: FAILED ($mode, exit $status); see $log and $build/artifacts/" >&2
  exit 1
fi
echo "native-fuzz: $mode ran ${seconds}s with no crash and no sanitizer report"
