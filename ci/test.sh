#!/usr/bin/env bash
# xipc's test command (README, .ci/run, GitHub Actions):
#
#   bash ci/test.sh [--linux-only | --mingw-only] [--no-asan] [--build-only]
#
# On Debian 12 as root it first installs what is missing with apt-get (as
# another user it prints the exact apt-get line and stops). Then it builds and
# runs the conformance suite natively (preset `linux`, build/linux) and as a
# MinGW-w64 cross build under Wine (preset `mingw`, build/mingw, Wine prefix
# inside build/mingw), then natively again with AddressSanitizer and
# UndefinedBehaviorSanitizer (preset `asan`, build/asan). It checks that the
# Linux and Windows legs list the same test names, validates the GitHub
# workflow against GitHub's schema (npm package @action-validator/cli), and
# prints every ctest summary last, with the reason of each skipped test. It
# exits non-zero if a leg fails, if a build prints a warning, if the workflow
# is invalid, or if the Windows leg cannot run.
#
#   --linux-only    only the Linux legs: linux and asan (GitHub `linux` job)
#   --mingw-only    only the Windows leg under Wine (GitHub `mingw` job)
#   --no-asan       skip the sanitizer leg
#   --build-only    configure and build, run no tests
# Environment: XIPC_CTEST_JOBS (default 2) parallel tests per leg;
# XIPC_TEST_TIME_SCALE multiplies the suite's timeouts and waits (default
# per leg: linux 1, mingw 3 for Wine, asan 2 for the sanitizers).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
exec </dev/null
# shellcheck source=ci/lib.sh
. ci/lib.sh

want_linux=1 want_mingw=1 want_asan=1 build_only=0
for arg in "$@"; do
  case $arg in
    --linux-only) want_mingw=0 ;;
    --mingw-only) want_linux=0 want_asan=0 ;;
    --no-asan) want_asan=0 ;;
    --build-only) build_only=1 ;;
    -h|--help) sed -n '2,26s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done
[ $want_linux = 1 ] || [ $want_mingw = 1 ] || xipc_die "--linux-only and --mingw-only exclude each other"

start=$(date +%s)
logs=build/test-logs
mkdir -p "$logs"
rm -f "$logs"/*-names.txt
jobs=${XIPC_CTEST_JOBS:-2}

pkgs="$XIPC_PKGS_COMMON $XIPC_PKGS_CHECKS"
[ $want_linux = 1 ] || [ $want_asan = 1 ] && pkgs="$pkgs $XIPC_PKGS_LINUX"
[ $want_mingw = 1 ] && pkgs="$pkgs $XIPC_PKGS_MINGW"
# shellcheck disable=SC2086
xipc_ensure_packages $pkgs
cmake --version | head -1

declare -A verdict summary skips scale
legs=()
failed=0

# The workflow is kept in ci/ and installed in .github/workflows/; it must
# pass GitHub's workflow schema (action-validator) and have the three jobs.
check_workflow() {
  local validator
  xipc_log "workflow: ci/github-workflow.yml"
  cmp -s ci/github-workflow.yml .github/workflows/ci.yml \
    || { echo "ERROR: .github/workflows/ci.yml differs from ci/github-workflow.yml (cp ci/github-workflow.yml .github/workflows/ci.yml)"; return 1; }
  xipc_ensure_node || { echo "ERROR: node and npm are needed to validate the workflow (apt-get install $XIPC_PKGS_NODE)"; return 1; }
  validator=$(xipc_action_validator build/npm) \
    || { echo "ERROR: npm could not install $XIPC_ACTION_VALIDATOR into build/npm"; return 1; }
  "$validator" .github/workflows/ci.yml \
    || { echo "ERROR: .github/workflows/ci.yml does not pass GitHub's workflow schema (errors above)"; return 1; }
  python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert set(d["jobs"]) >= {"linux", "mingw", "windows"}, d["jobs"].keys()' \
    ci/github-workflow.yml || { echo "ERROR: ci/github-workflow.yml lacks a job (linux, mingw, windows)"; return 1; }
  echo "workflow valid ($XIPC_ACTION_VALIDATOR), installed copy identical"
}
if ! check_workflow; then failed=1; summary_workflow="FAIL: see the workflow check above"; else summary_workflow="valid, installed copy identical"; fi

# leg_time_scale NAME: the suite's time scale for a leg (see --help).
leg_time_scale() {
  if [ -n "${XIPC_TEST_TIME_SCALE_USER:-}" ]; then echo "$XIPC_TEST_TIME_SCALE_USER"; return; fi
  case $1 in mingw) echo 3 ;; asan) echo 2 ;; *) echo 1 ;; esac
}
XIPC_TEST_TIME_SCALE_USER=${XIPC_TEST_TIME_SCALE:-}

# skip_reasons LOG: one line "name: reason" per test that ctest's LOG lists
# as not run, the reason taken from the test's output in ctest's
# LastTest.log (GoogleTest's "Skipped" message, or an "XIPC-SKIP:" line).
skip_reasons() {
  local log=$1 last=$2
  sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$log" | while IFS= read -r name; do
    local why
    why=$(awk -v want="$name" '
      { sub(/\r$/, "") }
      /^[0-9]+\/[0-9]+ Testing: / { cur = $0; sub(/^[0-9]+\/[0-9]+ Testing: /, "", cur); grab = 0 }
      cur != want { next }
      /XIPC-SKIP:/ { line = $0; sub(/.*XIPC-SKIP: */, "", line); why = why (why ? " " : "") line }
      /^\[  SKIPPED \]/ { grab = 0 }
      grab { why = why (why ? " " : "") $0 }
      /: Skipped$/ { grab = 1 }
      END { print why }' "$last")
    printf '%s: %s\n' "$name" "${why:-(no reason in the test output)}"
  done
}

# run_leg NAME PRESET: build, then ctest with the preset (output on failure,
# error when no test is found); records the verdict and ctest's summary.
run_leg() {
  local name=$1 preset=$2 log="$logs/$1-ctest.log"
  legs+=("$name")
  # Read by CMake at configure time (per-test timeouts) and by the tests.
  export XIPC_TEST_TIME_SCALE
  XIPC_TEST_TIME_SCALE=$(leg_time_scale "$name")
  scale[$name]=$XIPC_TEST_TIME_SCALE
  if ! xipc_build "$preset" "$logs/$name-build.log"; then
    verdict[$name]="FAIL (build)"; summary[$name]="build failed: see $logs/$name-build.log"
    return 1
  fi
  if [ $build_only = 1 ]; then
    verdict[$name]="BUILT"; summary[$name]="tests not run (--build-only)"
    return 0
  fi
  if [ "$name" = mingw ]; then
    xipc_wine_env "build/$preset"
    if ! (xipc_wine_start "build/$preset"); then
      verdict[$name]="FAIL (Wine)"; summary[$name]="the Windows leg could not run: Wine did not start"
      return 1
    fi
  fi
  xipc_log "ctest: preset $preset, -j$jobs"
  ctest --preset "$preset" -j"$jobs" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  summary[$name]=$(sed -n '/% tests passed/,$p' "$log")
  [ -n "${summary[$name]}" ] || summary[$name]=$(tail -n 5 "$log")
  skips[$name]=$(skip_reasons "$log" "build/$preset/Testing/Temporary/LastTest.log")
  if [ "$rc" = 0 ]; then verdict[$name]=PASS; else verdict[$name]="FAIL (ctest exit $rc)"; fi
  # Both legs must list the same tests (ctest -N runs the discovery again).
  ctest --test-dir "build/$preset" -N 2>/dev/null \
    | sed -n 's/^ *Test *#[0-9]*: //p' | sort >"$logs/$name-names.txt"
  [ "$rc" = 0 ]
}

# Named objects the suite leaves behind (its names start with "xt"; see
# xt::unique_name) show up as new entries of /dev/shm.
shm_list() { find /dev/shm -maxdepth 1 -name 'xt*' -printf '%f\n' 2>/dev/null | sort; }
shm_list >"$logs/shm-before.txt"

if [ $want_linux = 1 ]; then run_leg linux linux || failed=1; fi
if [ $want_mingw = 1 ]; then
  trap xipc_wine_stop EXIT
  run_leg mingw mingw || failed=1
  xipc_wine_stop
fi
if [ $want_asan = 1 ]; then run_leg asan asan || failed=1; fi

names_line=""
if [ $build_only = 0 ] && [ -s "$logs/linux-names.txt" ] && [ -s "$logs/mingw-names.txt" ]; then
  nl=$(wc -l <"$logs/linux-names.txt") nm=$(wc -l <"$logs/mingw-names.txt")
  if [ "$nl" -gt 0 ] && cmp -s "$logs/linux-names.txt" "$logs/mingw-names.txt"; then
    names_line="same $nl test names on linux and mingw"
  else
    names_line="FAIL: test names differ (linux $nl, mingw $nm; < linux only, > mingw only):
$(diff "$logs/linux-names.txt" "$logs/mingw-names.txt" | grep '^[<>]')"
    failed=1
  fi
elif [ $build_only = 0 ] && [ $want_linux = 1 ] && [ $want_mingw = 1 ]; then
  names_line="not compared: a leg did not list its tests"
fi

shm_left=$(shm_list | comm -13 "$logs/shm-before.txt" -)

elapsed=$(( $(date +%s) - start ))
printf '\n================ xipc test summary ================\n'
for name in "${legs[@]}"; do
  label=$name
  [ "$name" = mingw ] && label="mingw (Windows build under Wine)"
  [ "$name" = asan ] && label="asan (Linux, ASan+UBSan)"
  printf '[%s] %s (time scale %s)\n' "$label" "${verdict[$name]}" "${scale[$name]}"
  printf '%s\n' "${summary[$name]}" | sed 's/^/    /'
  if [ -n "${skips[$name]:-}" ]; then
    printf '    Why they were skipped:\n'
    printf '%s\n' "${skips[$name]}" | sed 's/^/      /'
  fi
done
echo "[workflow] $summary_workflow"
[ $want_mingw = 1 ] || echo "[mingw] not run (--linux-only)"
[ $want_linux = 1 ] || echo "[linux] not run (--mingw-only)"
[ $want_asan = 1 ] || echo "[asan] not run (--no-asan or --mingw-only)"
[ -z "$names_line" ] || echo "[names] $names_line"
[ -z "$shm_left" ] || printf '[shm] WARNING: left in /dev/shm (or made by another run at the same time):\n%s\n' "$shm_left"
if [ $failed = 0 ]; then
  echo "RESULT: PASS in ${elapsed}s"
else
  echo "RESULT: FAIL in ${elapsed}s (logs in $logs/)"
fi
exit $failed
