#!/usr/bin/env bash
# Runs the Windows binaries cross-built by the mingw leg (statically linked,
# no DLLs needed) natively on Windows: the GitHub `windows` job, in Git Bash.
#
#   bash ci/windows-native.sh DIR
#
# DIR holds conformance/xipc_conformance.exe, cli/xipc.exe and the
# examples' *.exe. The suite is run without ctest (one process, every
# test), its report goes to DIR/conformance.xml; then each example runs,
# bounded by a timeout, and the examples that are started separately run
# as ci/demo.sh runs them (ci/lib.sh: xipc_pair_demo, xipc_kv_demo,
# xipc_supervisor_demo).
set -uo pipefail
dir=${1:?usage: bash ci/windows-native.sh DIR}
# shellcheck source=ci/lib.sh
. "$(dirname "$0")/lib.sh"
suite="$dir/conformance/xipc_conformance.exe"
[ -f "$suite" ] || { echo "ERROR: $suite not found" >&2; exit 1; }
failed=0 results=()
limit=()
command -v timeout >/dev/null 2>&1 && limit=(timeout 120)

echo "==> conformance suite (native Windows)"
if "$suite" --gtest_output="xml:$dir/conformance.xml"; then
  results+=("conformance: PASS")
else
  results+=("conformance: FAIL"); failed=1
fi
for exe in "$dir"/*.exe; do
  [ -e "$exe" ] || continue
  case $(basename "$exe") in pair_* | kv_* | supervisor_*) continue ;; esac
  echo "==> $(basename "$exe")"
  "${limit[@]}" "$exe"
  rc=$?
  if [ $rc = 0 ]; then
    results+=("$(basename "$exe"): OK")
  else
    results+=("$(basename "$exe"): FAILED (exit $rc)"); failed=1
  fi
done
echo "==> pair_consumer + pair_producer, started separately"
pair_out=$(xipc_pair_demo "$dir" .exe) || failed=1
printf '%s\n' "$pair_out"
results+=("$(printf '%s\n' "$pair_out" | grep '^pair: ')")
echo "==> kv_server + kv_client, started separately"
kv_out=$(xipc_kv_demo "$dir" .exe) || failed=1
printf '%s\n' "$kv_out"
results+=("$(printf '%s\n' "$kv_out" | grep '^kv: ')")
echo "==> supervisor_demo, stopped by its control client and by SIGTERM"
sv_out=$(xipc_supervisor_demo "$dir" .exe) || failed=1
printf '%s\n' "$sv_out"
results+=("$(printf '%s\n' "$sv_out" | grep -E '^supervisor: .*: (OK|FAILED)')")
printf '\n================ native Windows summary ================\n'
printf '%s\n' "${results[@]}"
exit $failed
