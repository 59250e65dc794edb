#!/bin/sh
# Rebuilds and runs every Wine probe one at a time (not part of the tests):
#   sh ci/wine-probes/run.sh [OUTDIR]      (default: build/wine-probes)
# Each probe's output goes to OUTDIR/pN.out; FINDINGS.md records what Wine
# 8.0 (Debian 12) printed on 2026-12-01.
set -e
src=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/wine-probes}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export WINEPREFIX="$out/prefix" WINEDEBUG=-all
[ -f "$WINEPREFIX/system.reg" ] || wineboot -i >/dev/null 2>&1
for p in p1 p2 p2b p3 p4 p4b p5 p6 p7 p8 p9 p10 p10b p11 p12 p13 p14 p15; do
  x86_64-w64-mingw32-gcc-posix -municode -O1 -static -I"$src" -o "$out/$p.exe" "$src/$p.c" -ladvapi32 -lntdll -lws2_32
  (cd "$out" && timeout 60 wine "./$p.exe" >"$p.out" 2>&1) || echo "$p exited $?"
done
wineserver -k
