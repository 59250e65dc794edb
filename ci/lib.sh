# shellcheck shell=bash disable=SC2034 # sourced: the variables are used by the callers
# Shared functions of ci/test.sh and ci/demo.sh (sourced, not run).
# Written for bash on Debian 12; the only network access is apt-get.

# Debian packages per build leg. The conformance suite builds GoogleTest
# from /usr/src/googletest (package googletest) for each target; the
# benchmarks use Boost headers on Linux; python3-yaml validates the workflow.
XIPC_PKGS_COMMON="cmake make pkg-config googletest"
XIPC_PKGS_LINUX="gcc g++ libboost-dev"
XIPC_PKGS_MINGW="gcc-mingw-w64-x86-64-posix g++-mingw-w64-x86-64-posix wine wine64"
XIPC_PKGS_CHECKS="python3-yaml"

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
