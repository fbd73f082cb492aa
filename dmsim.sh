#!/usr/bin/env bash
# The project's one entry point on a fresh Debian 12 machine. It installs the Debian packages
# dmsim needs (apt-get, as root or through sudo), builds when sources changed, then:
#   ./dmsim.sh main              runs the main job: the detector selftest, then
#                                `dmsim check scenarios/` with JUnit, JSON and reports in out/
#   ./dmsim.sh test              runs the test suite
#   ./dmsim.sh test --sanitize   runs the test suite built with ASan+UBSan (build-asan/)
#   ./dmsim.sh test --release    runs the test suite built as CMake's Release, -O3 (build-release/)
#   ./dmsim.sh format [--check]  clang-formats the sources (or only checks them)
#   ./dmsim.sh dmsim ARGS...     builds and runs the dmsim CLI with ARGS
set -euo pipefail
cd "$(dirname "$0")"

# graphviz draws the reports' wait-for graphs; chromium (headless) is the HTML reports' browser test.
PACKAGES=(build-essential cmake pkg-config clang-format libsimgrid-dev libz3-dev libboost-graph-dev
          libyaml-cpp-dev catch2 graphviz thin-provisioning-tools chromium)

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "dmsim.sh: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {  # build DIR [cmake options...]; warnings are errors here, as in CI
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMSIM_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)" -- --no-print-directory >/dev/null
}

sources() { git ls-files '*.cpp' '*.hpp' 2>/dev/null || find sim model engines scenarios verify reports cli tests -name '*.[ch]pp'; }

case "${1:-}" in
  main)
    ensure_packages
    build build
    ./build/cli/dmsim selftest
    exec ./build/cli/dmsim check scenarios/ --jobs "$(nproc)" --junit out/junit.xml --json out/results.json \
      --report-dir out/reports
    ;;
  test)
    ensure_packages
    if [ "${2:-}" = "--sanitize" ]; then
      build build-asan -DDMSIM_SANITIZE=ON
      ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
    elif [ "${2:-}" = "--release" ]; then
      build build-release -DCMAKE_BUILD_TYPE=Release
      ctest --test-dir build-release --output-on-failure -j"$(nproc)"
    else
      build build
      ctest --test-dir build --output-on-failure -j"$(nproc)"
    fi
    ;;
  format)
    ensure_packages
    if [ "${2:-}" = "--check" ]; then
      sources | xargs clang-format --dry-run --Werror
    else
      sources | xargs clang-format -i
    fi
    ;;
  dmsim)
    shift
    ensure_packages
    build build
    exec ./build/cli/dmsim "$@"
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
