# shellcheck shell=bash disable=SC2034 # sourced: the variables are used by the callers
# Shared functions of ci/test.sh and ci/demo.sh (sourced, not run).
# Written for bash on Debian 12; the only network access is apt-get.

# Debian packages per build leg. The conformance suite builds GoogleTest
# from /usr/src/googletest (package googletest) for each target; the
# benchmarks use Boost headers on Linux; python3-yaml reads the workflow and
# Node.js runs the workflow validator (XIPC_ACTION_VALIDATOR, from npm).
XIPC_PKGS_COMMON="cmake make pkg-config googletest"
XIPC_PKGS_LINUX="gcc g++ libboost-dev"
XIPC_PKGS_MINGW="gcc-mingw-w64-x86-64-posix g++-mingw-w64-x86-64-posix wine wine64"
XIPC_PKGS_CHECKS="python3-yaml"
# Installed only when the commands `node` and `npm` are missing (a Node.js
# from elsewhere, such as NodeSource's package, which bundles npm, will do).
XIPC_PKGS_NODE="nodejs npm"
# The npm package that checks .github/workflows/ci.yml against GitHub's
# workflow schema, pinned; installed into build/npm.
XIPC_ACTION_VALIDATOR="@action-validator/cli@0.6.0"

# Wine stores Windows file names in the charset of the Unix locale, so
# without a UTF-8 locale (CI containers set none) non-ASCII file names fail.
# C.UTF-8 is built into Debian's glibc.
case "$(locale charmap 2>/dev/null)" in
  UTF-8) ;;
  *) export LC_ALL=C.UTF-8 ;;
esac

xipc_log() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
xipc_die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# Prints the packages of "$@" that dpkg does not list as installed.
xipc_missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
      || printf '%s\n' "$p"
  done
}

# Installs the missing packages of "$@" with apt-get. Without root it stops
# with the exact command to run; on a system without dpkg it trusts that the
# tools are there (the build then says clearly what it could not find).
xipc_ensure_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "note: no dpkg on this system; not checking packages: $*"
    return 0
  fi
  local missing
  missing=$(xipc_missing_packages "$@" | tr '\n' ' ')
  missing=${missing% }
  if [ -z "$missing" ]; then
    echo "packages: all present ($*)"
    return 0
  fi
  local line="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing"
  if [ "$(id -u)" != 0 ]; then
    printf '\nMissing packages: %s\nRun as root:\n  %s\n' "$missing" "$line" >&2
    exit 2
  fi
  xipc_log "installing: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update </dev/null || xipc_die "apt-get update failed"
  # shellcheck disable=SC2086 # word splitting of the package list is wanted
  apt-get install -y --no-install-recommends $missing </dev/null \
    || xipc_die "apt-get install failed: $line"
}

# xipc_ensure_node: node and npm on PATH, installing XIPC_PKGS_NODE with
# apt-get when either is missing.
xipc_ensure_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && return 0
  # shellcheck disable=SC2086 # word splitting of the package list is wanted
  xipc_ensure_packages $XIPC_PKGS_NODE
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1
}

# xipc_action_validator DIR: prints the path of the workflow validator's
# command, installing XIPC_ACTION_VALIDATOR with npm into DIR first if it is
# not there (npm's registry is needed once; later runs work offline).
xipc_action_validator() {
  local dir=$1 bin="$1/node_modules/.bin/action-validator" want
  want=${XIPC_ACTION_VALIDATOR##*@}
  if [ ! -x "$bin" ] || ! grep -q "\"version\": \"$want\"" \
      "$dir/node_modules/@action-validator/cli/package.json" 2>/dev/null; then
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
      "$XIPC_ACTION_VALIDATOR" >&2 </dev/null || return 1
  fi
  printf '%s\n' "$bin"
}

# xipc_build PRESET LOG [TARGET...]: configures and builds a preset (all
# targets, or the given ones), keeping the output in LOG. Every preset has
# XIPC_WERROR=ON; this also fails on any warning that -Werror does not cover
# (GoogleTest, the linker).
xipc_build() {
  local preset=$1 log=$2
  shift 2
  local targets=()
  [ $# = 0 ] || targets=(--target "$@")
  xipc_log "configure + build: preset $preset${1:+ (targets: $*)}"
  mkdir -p "$(dirname "$log")"
  { cmake --preset "$preset" && cmake --build --preset "$preset" "${targets[@]}"; } 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" = 0 ] || return 1
  if grep -n -i 'warning:' "$log"; then
    echo "ERROR: the $preset build printed warnings (above); xipc builds warning-free" >&2
    return 1
  fi
}

# Wine, headless, with its prefix inside the build tree: the same prefix
# that the generated BUILD/wine-run.sh (CMAKE_CROSSCOMPILING_EMULATOR) uses.
xipc_wine_tool() { # NAME: wineboot/wineserver next to the wine CMake found
  local wine t
  wine=$(sed -n 's/^XIPC_WINE:FILEPATH=//p' "$XIPC_WINE_BUILD/CMakeCache.txt" 2>/dev/null)
  for t in "$(dirname "${wine:-/usr/bin/wine}")/$1" "$(command -v "$1")" "/usr/lib/wine/${1}64"; do
    [ -x "$t" ] && { printf '%s\n' "$t"; return 0; }
  done
  return 1
}

# xipc_wine_env BUILD: the environment of BUILD's Wine prefix.
xipc_wine_env() {
  XIPC_WINE_BUILD=$1
  export WINEPREFIX="$PWD/$1/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
}

# xipc_wine_start BUILD: boots the prefix once (so that test discovery does
# not pay for it), then keeps one persistent wineserver for the whole run
# instead of one per test process. Any server of this prefix is ended first:
# that writes the fresh registry to disk (wine-run.sh then sees a booted
# prefix) and drops a server left over from an earlier run.
xipc_wine_start() {
  xipc_wine_env "$1"
  local boot server
  [ -x "$1/wine-run.sh" ] \
    || xipc_die "$1/wine-run.sh was not generated: CMake found no wine/wineboot, so the Windows leg cannot run"
  boot=$(xipc_wine_tool wineboot) || xipc_die "wineboot not found: the Windows leg cannot run"
  server=$(xipc_wine_tool wineserver) || xipc_die "wineserver not found: the Windows leg cannot run"
  mkdir -p "$WINEPREFIX"
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    xipc_log "booting Wine prefix $WINEPREFIX"
    "$boot" -i </dev/null >/dev/null 2>&1 || xipc_die "wineboot -i failed: the Windows leg cannot run"
  fi
  "$server" -k 2>/dev/null || true
  "$server" -w
  "$server" -p || xipc_die "cannot start wineserver"
  "$1/wine-run.sh" cmd /c exit 0 </dev/null \
    || xipc_die "Wine cannot run a program in $WINEPREFIX: the Windows leg cannot run"
}

# xipc_wine_stop: ends this prefix's wineserver and every Wine process in it,
# so no process outlives the run.
xipc_wine_stop() {
  local server
  [ -n "${WINEPREFIX:-}" ] && [ -n "${XIPC_WINE_BUILD:-}" ] || return 0
  server=$(xipc_wine_tool wineserver) || return 0
  "$server" -k 2>/dev/null || true
  "$server" -w 2>/dev/null || true
}

# xipc_pair_demo DIR EXT [RUNNER...]: runs examples/pair_producer and
# pair_consumer of DIR (EXT: .exe or empty; RUNNER: wine-run.sh for Wine) as
# two separately started programs, the way the README's quick start does,
# each bounded by XIPC_DEMO_TIMEOUT seconds (default 120):
#   1. the consumer first, then the producer with 100 messages;
#   2. the producer first (it holds the queue until it is drained; `xipc
#      ls` from DIR/cli shows it meanwhile), then the consumer;
#   3. a consumer alone, stopped with SIGTERM from another process (kill on
#      Linux, `signal_demo send PID SIGTERM` on Windows) must exit 0.
# Every program must exit 0 and the consumers must report what they got.
# Prints one line per step; returns non-zero if a step failed.
xipc_pair_demo() {
  local dir=$1 ext=$2
  shift 2
  local run=("$@") t=${XIPC_DEMO_TIMEOUT:-120} q="xipc-pair-demo-$$" bad=0
  local out="$dir/pair-demo" pid rc lim=()
  # GNU timeout when there is one (Git Bash has it; Windows' own timeout.exe
  # is something else and fails this probe).
  timeout --version >/dev/null 2>&1 && lim=(timeout -k 5 "$t")
  if [ ! -f "$dir/pair_producer$ext" ] || [ ! -f "$dir/pair_consumer$ext" ]; then
    echo "pair: FAILED (pair_producer/pair_consumer not built in $dir)"; return 1
  fi
  # start NAME ARGS...: starts pair_NAME in the background (output in
  # $out.NAME), waits until it printed its pid line (after its handlers and
  # the queue are set up) and sets pid to that (Windows) process id.
  start() {
    local name=$1 i
    shift
    rm -f "$out.$name"  # not an earlier step's pid line
    "${lim[@]}" "${run[@]}" "$dir/pair_$name$ext" "$@" >"$out.$name" 2>&1 &
    bg=$!
    pid=""
    for ((i = 0; i < t * 10; i++)); do
      pid=$(sed -n "s/^pair_$name: pid \([0-9]*\),.*/\1/p" "$out.$name" 2>/dev/null)
      [ -n "$pid" ] && break
      sleep 0.1
    done
  }
  # finish NAME ARGS...: runs pair_NAME in the foreground, then waits for
  # the background one; rc is non-zero if either failed.
  finish() {
    local name=$1 fg
    shift
    "${lim[@]}" "${run[@]}" "$dir/pair_$name$ext" "$@" >"$out.$name" 2>&1
    fg=$?
    wait "$bg"
    rc=$(( fg != 0 || $? != 0 ))
  }
  # verdict STEP: consumer got all 100 in order and both exited 0.
  verdict() {
    sed -n '$p' "$out.consumer"
    if [ "$rc" = 0 ] && grep -q "received 100 of 100 messages, in order" "$out.consumer"; then
      echo "pair: $1: OK"
    else
      echo "pair: $1: FAILED (see $out.consumer, $out.producer)"; bad=1
    fi
  }
  # show_ls QUEUE: while the producer holds QUEUE, `xipc ls` (the command
  # built in DIR/cli) must list it; prints the header and its line.
  show_ls() {
    local xipc="$dir/cli/xipc$ext" listing
    if [ ! -f "$xipc" ]; then
      echo "pair: xipc ls: FAILED (xipc not built in $dir/cli)"; bad=1; return
    fi
    listing=$("${lim[@]}" "${run[@]}" "$xipc" ls)
    echo "xipc ls, while pair_producer (pid $pid) holds $1:"
    printf '%s\n' "$listing" | grep -E "^KIND|[[:space:]]$1[[:space:]]"
    if printf '%s\n' "$listing" | grep -Eq "^queue +$1 "; then
      echo "pair: xipc ls lists the producer's queue: OK"
    else
      echo "pair: xipc ls lists the producer's queue: FAILED"; bad=1
    fi
  }
  local bg
  start consumer "$q-1"
  finish producer 100 "$q-1"
  verdict "consumer started first"
  start producer 100 "$q-2"
  show_ls "$q-2"
  finish consumer "$q-2"
  verdict "producer started first"

  start consumer "$q-3"
  if [ -n "$pid" ] && [ -z "$ext" ]; then
    kill -TERM "$pid"
  elif [ -n "$pid" ]; then
    "${lim[@]}" "${run[@]}" "$dir/signal_demo$ext" send "$pid" SIGTERM
  fi
  wait "$bg"
  rc=$?
  sed -n '$p' "$out.consumer"
  if [ "$rc" = 0 ] && grep -q "SIGTERM: stopping after 0 messages" "$out.consumer"; then
    echo "pair: consumer stopped by SIGTERM: OK"
  else
    echo "pair: consumer stopped by SIGTERM: FAILED (exit $rc, see $out.consumer)"; bad=1
  fi
  return $bad
}

# xipc_kv_demo DIR EXT [RUNNER...]: runs examples/kv_server and kv_client of
# DIR (EXT: .exe or empty; RUNNER: wine-run.sh for Wine) as separately
# started programs, the Listener/Client scenario of the README, each bounded
# by XIPC_DEMO_TIMEOUT seconds (default 120):
#   1. a client started before the server (it waits for it to appear) sets
#      two keys;
#   2. the server, started next, answers it;
#   3. a second client reads the keys back, deletes one and lists them;
#   4. on Linux with python3, multiprocessing.connection's Client asks too;
#   5. the server is stopped with SIGTERM from another process (kill on
#      Linux, `signal_demo send PID SIGTERM` on Windows) and must exit 0.
# Prints one line per step ("kv: ..."); returns non-zero if a step failed.
xipc_kv_demo() {
  local dir=$1 ext=$2
  shift 2
  local run=("$@") t=${XIPC_DEMO_TIMEOUT:-120} ep="kv-demo-$$" bad=0
  local out="$dir/kv-demo" pid="" lim=() i cbg sbg rc
  timeout --version >/dev/null 2>&1 && lim=(timeout -k 5 "$t")
  if [ ! -f "$dir/kv_server$ext" ] || [ ! -f "$dir/kv_client$ext" ]; then
    echo "kv: FAILED (kv_server/kv_client not built in $dir)"; return 1
  fi
  # step NAME RC FILE PATTERN: one verdict line.
  step() {
    if [ "$2" = 0 ] && grep -q -- "$4" "$3"; then
      echo "kv: $1: OK"
    else
      echo "kv: $1: FAILED (exit $2, see $3)"; bad=1
    fi
  }
  rm -f "$out.client1" "$out.client2" "$out.python" "$out.server"
  "${lim[@]}" "${run[@]}" "$dir/kv_client$ext" -n "$ep" "set color blue" \
    "set shape round" >"$out.client1" 2>&1 &
  cbg=$!
  sleep 1 # the client is now waiting for a server
  "${lim[@]}" "${run[@]}" "$dir/kv_server$ext" "$ep" >"$out.server" 2>&1 &
  sbg=$!
  for ((i = 0; i < t * 10; i++)); do
    pid=$(sed -n "s/^kv_server: pid \([0-9]*\),.*/\1/p" "$out.server" 2>/dev/null)
    [ -n "$pid" ] && break
    sleep 0.1
  done
  wait "$cbg"
  rc=$?
  cat "$out.client1"
  step "client started before the server" "$rc" "$out.client1" '"set shape round" -> "ok"'
  "${lim[@]}" "${run[@]}" "$dir/kv_client$ext" -n "$ep" "get color" \
    "del shape" "get shape" "keys" >"$out.client2" 2>&1
  rc=$?
  cat "$out.client2"
  if [ "$rc" = 0 ] && grep -q '"get color" -> "ok blue"' "$out.client2" &&
      grep -q '"get shape" -> "missing"' "$out.client2"; then
    echo "kv: second client sees the first one's keys: OK"
  else
    echo "kv: second client sees the first one's keys: FAILED (exit $rc, see $out.client2)"; bad=1
  fi
  if [ -z "$ext" ] && command -v python3 >/dev/null 2>&1; then
    "${lim[@]}" python3 -c "
from multiprocessing.connection import Client
c = Client('\0xipc.$ep', family='AF_UNIX')
c.send_bytes(b'get color')
print('python client: get color ->', c.recv_bytes().decode())
c.close()" >"$out.python" 2>&1
    rc=$?
    cat "$out.python"
    step "Python multiprocessing.connection client" "$rc" "$out.python" 'get color -> ok blue'
  elif [ -z "$ext" ]; then
    echo "kv: Python client: skipped (no python3)"
  else
    echo "kv: Python client: not run (Windows: Python's pipe connections are not xipc's framing)"
  fi
  if [ -n "$pid" ] && [ -z "$ext" ]; then
    kill -TERM "$pid"
  elif [ -n "$pid" ]; then
    "${lim[@]}" "${run[@]}" "$dir/signal_demo$ext" send "$pid" SIGTERM
  fi
  wait "$sbg"
  rc=$?
  cat "$out.server"
  step "server stopped by SIGTERM" "$rc" "$out.server" 'SIGTERM: stopping after'
  return $bad
}

# xipc_supervisor_demo DIR EXT [RUNNER...]: runs examples/supervisor_demo
# of DIR (EXT: .exe or empty; RUNNER: wine-run.sh for Wine) twice, each
# bounded by XIPC_DEMO_TIMEOUT seconds (default 120), and stops it from
# another process once all its results are in:
#   1. with its control client, `supervisor_demo ctl NAME status stop`;
#   2. with SIGTERM, `xipc send PID TERM` (the command built in DIR/cli).
# Each time the supervisor must exit 0 with the expected transcript on
# stdout, line for line (its pid aside; Windows' CR LF stripped), and the
# control client must print the expected replies. The status lines that
# the supervisor prints on stderr depend on timing and are not checked.
# Prints one line per step ("supervisor: ..."); returns non-zero if a step
# failed.
xipc_supervisor_demo() {
  local dir=$1 ext=$2
  shift 2
  local run=("$@") t=${XIPC_DEMO_TIMEOUT:-120} name="supervisor-demo-$$" bad=0
  local out="$dir/supervisor-demo" lim=() pid bg rc i
  timeout --version >/dev/null 2>&1 && lim=(timeout -k 5 "$t")
  if [ ! -f "$dir/supervisor_demo$ext" ] || [ ! -f "$dir/cli/xipc$ext" ]; then
    echo "supervisor: FAILED (supervisor_demo or cli/xipc not built in $dir)"; return 1
  fi
  # sv_start STEP: starts the supervisor on the endpoint NAME-STEP in the
  # background (bg), waits until it has all its results (or has ended) and
  # sets pid from its first line.
  sv_start() {
    rm -f "$out.$1" "$out.$1.err"
    "${lim[@]}" "${run[@]}" "$dir/supervisor_demo$ext" "$name-$1" \
      >"$out.$1" 2>"$out.$1.err" &
    bg=$!
    for ((i = 0; i < t * 10; i++)); do
      grep -q '^supervisor: all 8 results in' "$out.$1" 2>/dev/null && break
      kill -0 "$bg" 2>/dev/null || break
      sleep 0.1
    done
    pid=$(sed -n 's/^supervisor: pid \([0-9]*\),.*/\1/p' "$out.$1")
  }
  # sv_expect STEP REASON [LINE...]: the transcript expected of step STEP
  # stopped for REASON, with the control lines LINE... before the stop.
  sv_expect() {
    local n="$name-$1" why=$2
    shift 2
    printf '%s\n' \
      "supervisor: pid PID, control endpoint $n, queues $n.jobs and $n.results" \
      "supervisor: started 2 workers, put 8 jobs" \
      "supervisor: all 8 results in, sum of squares 204" "$@" \
      "supervisor: stop ($why): job queue shut down, waiting for the workers" \
      "supervisor: worker 1 exited with code 0" \
      "supervisor: worker 2 exited with code 0" \
      "supervisor: 8 of 8 results, closed the queues and the endpoint, exit 0"
  }
  # sv_verdict STEP WHAT RC EXPECTED: compares the transcript of STEP.
  sv_verdict() {
    local got
    got=$(tr -d '\r' <"$out.$1" | sed 's/^supervisor: pid [0-9]*,/supervisor: pid PID,/')
    printf '%s\n' "$got"
    if [ "$3" = 0 ] && [ "$got" = "$4" ]; then
      echo "supervisor: $2: OK"
    else
      echo "supervisor: $2: FAILED (exit $3, see $out.$1 and $out.$1.err); expected:"
      printf '%s\n' "$4"; bad=1
    fi
  }
  local status='"status" -> "8 of 8 results, 2 workers running"' stop='"stop" -> "stopping"'
  local ctl_out want_ctl
  sv_start ctl
  ctl_out=$("${lim[@]}" "${run[@]}" "$dir/supervisor_demo$ext" ctl "$name-ctl" status stop)
  rc=$?
  ctl_out=$(printf '%s\n' "$ctl_out" | tr -d '\r')
  printf '%s\n' "$ctl_out"
  want_ctl=$(printf 'ctl: %s\nctl: %s' "$status" "$stop")
  if [ "$rc" = 0 ] && [ "$ctl_out" = "$want_ctl" ]; then
    echo "supervisor: control client's replies: OK"
  else
    echo "supervisor: control client's replies: FAILED (exit $rc)"; bad=1
  fi
  wait "$bg"
  rc=$?
  sv_verdict ctl "stopped by its control client" "$rc" \
    "$(sv_expect ctl control "supervisor: control: $status" "supervisor: control: $stop")"

  sv_start term
  if [ -n "$pid" ]; then
    "${lim[@]}" "${run[@]}" "$dir/cli/xipc$ext" send "$pid" TERM
  fi
  wait "$bg"
  rc=$?
  sv_verdict term "stopped by SIGTERM (xipc send PID TERM)" "$rc" "$(sv_expect term SIGTERM)"
  return $bad
}
