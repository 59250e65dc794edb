#!/usr/bin/env bash
# xipc's demo command (README):
#
#   bash ci/demo.sh [--linux-only | --mingw-only]
#
# Installs what is missing like ci/test.sh, builds the library and the
# programs in examples/ natively (preset `linux`) and runs each of them, then
# builds them with MinGW-w64 (preset `mingw`) and runs the same programs under
# Wine. Each example starts its own second process and exits 0 on success;
# pair_producer and pair_consumer are instead started separately, as two
# programs in two terminals would be (ci/lib.sh, xipc_pair_demo), and so are
# kv_server and its kv_client (xipc_kv_demo), and supervisor_demo is
# stopped from another process, by its control client and by SIGTERM
# (xipc_supervisor_demo). Each run is bounded by
# XIPC_DEMO_TIMEOUT seconds (default 120). While the pair's producer holds
# its queue, the demo runs `xipc ls` (cli/xipc.c) to show it.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
exec </dev/null
# shellcheck source=ci/lib.sh
. ci/lib.sh

want_linux=1 want_mingw=1
for arg in "$@"; do
  case $arg in
    --linux-only) want_mingw=0 ;;
    --mingw-only) want_linux=0 ;;
    -h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done
limit=${XIPC_DEMO_TIMEOUT:-120}
logs=build/test-logs

pkgs="$XIPC_PKGS_COMMON"
[ $want_linux = 1 ] && pkgs="$pkgs $XIPC_PKGS_LINUX"
[ $want_mingw = 1 ] && pkgs="$pkgs $XIPC_PKGS_MINGW"
# shellcheck disable=SC2086
xipc_ensure_packages $pkgs

examples=() solo=()
for src in examples/*.c; do
  [ -e "$src" ] || continue
  examples+=("$(basename "$src" .c)")
  case $src in examples/pair_* | examples/kv_* | examples/supervisor_*) ;; *) solo+=("$(basename "$src" .c)") ;; esac
done
[ ${#examples[@]} -gt 0 ] || xipc_die "no examples/*.c to run"

results=()
failed=0

# run_examples LEG BUILD [RUNNER]: runs every example of BUILD, through
# RUNNER (Wine) when given, each bounded by the time limit; then the pair.
run_examples() {
  local leg=$1 build=$2 runner=${3:-} name exe rc line
  for name in "${solo[@]}"; do
    exe="$build/$name"
    [ -n "$runner" ] && exe="$exe.exe"
    xipc_log "[$leg] $name"
    if [ ! -x "$exe" ]; then
      rc="not built"
    else
      # shellcheck disable=SC2086 # runner is one path or empty
      timeout -k 5 "$limit" $runner "$exe"
      rc=$?
      [ "$rc" = 124 ] && rc="timed out after ${limit}s"
    fi
    if [ "$rc" = 0 ]; then
      results+=("[$leg] $name: OK")
    else
      results+=("[$leg] $name: FAILED ($rc)"); failed=1
    fi
  done
  xipc_log "[$leg] pair_consumer + pair_producer, started separately"
  local ext="" out="$build/pair-demo.log"
  [ -n "$runner" ] && ext=.exe
  # shellcheck disable=SC2086 # runner is one path or empty
  xipc_pair_demo "$build" "$ext" $runner | tee "$out"
  [ "${PIPESTATUS[0]}" = 0 ] || failed=1
  while IFS= read -r line; do
    case $line in "pair: "*) results+=("[$leg] $line") ;; esac
  done <"$out"
  xipc_log "[$leg] kv_server + kv_client, started separately"
  out="$build/kv-demo.log"
  # shellcheck disable=SC2086 # runner is one path or empty
  xipc_kv_demo "$build" "$ext" $runner | tee "$out"
  [ "${PIPESTATUS[0]}" = 0 ] || failed=1
  while IFS= read -r line; do
    case $line in "kv: "*) results+=("[$leg] $line") ;; esac
  done <"$out"
  xipc_log "[$leg] supervisor_demo, stopped by its control client and by SIGTERM"
  out="$build/supervisor-demo.log"
  # shellcheck disable=SC2086 # runner is one path or empty
  xipc_supervisor_demo "$build" "$ext" $runner | tee "$out"
  [ "${PIPESTATUS[0]}" = 0 ] || failed=1
  while IFS= read -r line; do
    case $line in "supervisor: "*": OK" | "supervisor: "*": FAILED"*) results+=("[$leg] $line") ;; esac
  done <"$out"
}

if [ $want_linux = 1 ]; then
  if xipc_build linux "$logs/demo-linux-build.log" "${examples[@]}" xipc_cli; then
    run_examples linux build/linux
  else
    results+=("[linux] build FAILED"); failed=1
  fi
fi
if [ $want_mingw = 1 ]; then
  trap xipc_wine_stop EXIT
  xipc_wine_env build/mingw
  if ! xipc_build mingw "$logs/demo-mingw-build.log" "${examples[@]}" xipc_cli; then
    results+=("[mingw] build FAILED"); failed=1
  elif ! (xipc_wine_start build/mingw); then
    results+=("[mingw] FAILED: Wine could not run, the Windows demos did not run"); failed=1
  else
    run_examples "mingw/Wine" build/mingw build/mingw/wine-run.sh
  fi
  xipc_wine_stop
fi

printf '\n================ xipc demo summary ================\n'
printf '%s\n' "${results[@]}"
if [ $failed = 0 ]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
exit $failed
