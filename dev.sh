#!/usr/bin/env bash
# Set up and run salesproc on a fresh machine with only Python 3.10+.
#   ./dev.sh demo   set up, validate the examples, draw them and write their playbooks
#                   into out/, simulate the five-step process (and write its HTML report
#                   with charts), measure its example CRM export, calibrate the process
#                   to it and forecast 13 weeks; print a one-page summary (every report
#                   is in out/)
#   ./dev.sh demo --full   the same, printing every report in full
#   ./dev.sh test   set up, then run the whole test suite (lint, types, tests)
# The virtual environment lives in .venv; it is (re)installed when setup.cfg changes.
# Installing compiles the simulation kernel (salesproc/sim) with mypyc where it can (a C
# compiler and Python's headers); it is compiled again when its sources change.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
# Python's compiled modules (and pytest's rewritten tests) are kept, in the __pycache__
# folders git ignores, even where the shell says not to write them
# (PYTHONDONTWRITEBYTECODE): without them every process of the tests and the demo
# compiles salesproc's modules and the tests again, seconds each time
unset PYTHONDONTWRITEBYTECODE

die() { echo "dev.sh: $*" >&2; exit 1; }

ensure_venv() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3.10 or newer"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || die "salesproc needs Python 3.10 or newer; $("$PYTHON" --version) found"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || die "could not create $VENV (Debian/Ubuntu: apt-get install python3-venv)"
  fi
  local stamp="$VENV/.installed"
  if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ] \
      || [ setup.py -nt "$stamp" ]; then
    echo "dev.sh: installing salesproc and its dependencies into $VENV ..." >&2
    { "$VENV/bin/python" -m pip install --upgrade pip \
        && "$VENV/bin/python" -m pip install -e '.[test]'; } > "$VENV/install.log" 2>&1 \
      || { cat "$VENV/install.log" >&2; die "installing failed (log above, and in $VENV/install.log)"; }
    touch "$stamp"
    "$VENV/bin/python" -c 'import sys; from salesproc.sim import scheduler; sys.exit(not scheduler.COMPILED)' \
      || echo "dev.sh: the simulation kernel could not be compiled (see $VENV/install.log):" \
              "it runs as plain Python, the same figures about three times slower" >&2
  fi
  ensure_kernel
}

# ensure_kernel: compile the simulation kernel again when its sources changed since it was
# compiled (salesproc.sim.compiled: the compiled one is then not used, and says so); in a
# checkout of salesproc (setup.py) only
ensure_kernel() {
  [ -f setup.py ] || return 0
  "$VENV/bin/python" -c 'import sys; from salesproc.sim import compiled; sys.exit(compiled.NOTE is not None)' \
    && return 0
  echo "dev.sh: compiling the simulation kernel again (its sources changed) ..." >&2
  "$VENV/bin/python" -m pip install --no-deps -e . > "$VENV/install.log" 2>&1 \
    || { cat "$VENV/install.log" >&2; die "installing failed (log above, and in $VENV/install.log)"; }
}

# ensure_system PROGRAM PACKAGE WHAT-FOR MISSING-HINT: install a Debian package with
# apt-get when running as root and PROGRAM is missing; otherwise say what to install.
ensure_system() {
  local program=$1 package=$2 purpose=$3 hint=$4
  command -v "$program" >/dev/null && return 0
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "dev.sh: installing $package for $purpose (apt-get install $package) ..." >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package"; } \
      >/dev/null || echo "dev.sh: could not install $package; $hint" >&2
  else
    echo "dev.sh: '$program' not found; $hint (install it: sudo apt-get install $package)" >&2
  fi
}

ensure_graphviz() {
  ensure_system dot graphviz "drawing SVG/PNG flowcharts" \
    "SVG/PNG rendering will be skipped (macOS: brew install graphviz)"
}

ensure_chromium() {
  # A real headless browser checks the HTML pages in the tests (Playwright drives it).
  ensure_system chromium chromium "the browser tests" "the browser tests will be skipped"
}

ensure_mermaid_parser() {
  # Mermaid's own parser (node + npm) checks the diagrams in the tests, as GitHub would.
  local folder=tests/mermaid
  command -v npm >/dev/null || { echo "dev.sh: npm not found; the Mermaid parser test will be skipped" >&2; return 0; }
  if [ ! -f "$folder/node_modules/.installed" ] || [ "$folder/package.json" -nt "$folder/node_modules/.installed" ]; then
    echo "dev.sh: installing Mermaid's parser for the tests (npm) ..." >&2
    (cd "$folder" && npm install --no-audit --no-fund --no-package-lock --silent) >&2 \
      && touch "$folder/node_modules/.installed" \
      || echo "dev.sh: could not install Mermaid's parser; that test will be skipped" >&2
  fi
}

# show FILE LINES: the first LINES of a report (all of it with --full), and where it is
show() {
  if [ "$FULL" = 1 ]; then cat "$1"; else head -n "$2" "$1"; echo "  [... all of it in $1]"; fi
}

# quiet COMMAND...: run it, its messages on stderr kept back unless it fails (all of
# them shown with --full): the summary says once what every command says again
quiet() {
  if [ "$FULL" = 1 ]; then "$@"; return; fi
  local log
  log=$(mktemp)
  "$@" 2> "$log" || { cat "$log" >&2; rm -f "$log"; return 1; }
  rm -f "$log"
}

demo() {
  ensure_venv
  ensure_graphviz
  local sp="$VENV/bin/salesproc"
  "$sp" validate processes/
  mkdir -p out
  local format=svg
  command -v dot >/dev/null || format=mermaid
  for file in processes/*.yaml; do
    name=$(basename "$file" .yaml)
    quiet "$sp" render "$file" --combined --format "$format" -o "out/$name.${format/mermaid/mmd}"
    quiet "$sp" playbook "$file" -o "out/$name.playbook.md"
  done
  echo "drew every process (out/<name>.${format/mermaid/mmd}) and wrote its playbook (out/<name>.playbook.md)"
  echo
  # one simulation, two reports: each -o in the format its name ends with
  quiet "$sp" simulate processes/five-step.yaml -o out/five-step.simulation.txt \
    -o out/five-step.report.html
  show out/five-step.simulation.txt 14
  echo "  the same as a page with charts: out/five-step.report.html"
  echo
  local export="examples/five-step-salesforce/Opportunity.csv examples/five-step-salesforce/OpportunityHistory.csv"
  # shellcheck disable=SC2086  # two file names
  "$sp" measure $export --process processes/five-step.yaml > out/five-step.measure.txt
  show out/five-step.measure.txt 10
  echo
  # shellcheck disable=SC2086
  quiet "$sp" calibrate $export --process processes/five-step.yaml \
    -o out/five-step.calibrated.yaml --check > out/five-step.calibrate.txt
  if [ "$FULL" = 1 ]; then cat out/five-step.calibrate.txt; else
    head -n 1 out/five-step.calibrate.txt
    grep -m 1 "outside their range" out/five-step.calibrate.txt || true
    echo "  [... every fitted value and the fit check in out/five-step.calibrate.txt]"
  fi
  echo
  # shellcheck disable=SC2086
  quiet "$sp" forecast $export --process out/five-step.calibrated.yaml --horizon 13w \
    > out/five-step.forecast.txt
  show out/five-step.forecast.txt 11
  if [ "$FULL" != 1 ]; then echo; echo "Every report in full: ./dev.sh demo --full"; fi
}

run_tests() {
  ensure_venv
  # Mermaid's parser comes from npm, mostly a wait on the network: it installs (the first
  # time) while Graphviz, Chromium and the type check are seen to
  ensure_mermaid_parser &
  local npm=$!
  ensure_graphviz
  ensure_chromium
  # where Chromium is installed, the browser tests must run (not be skipped)
  if command -v chromium >/dev/null; then export SALESPROC_REQUIRE_BROWSER=1; fi
  "$VENV/bin/ruff" check salesproc tests bench
  wait "$npm"
  # the type check (one core, seconds when its cache is cold) runs beside the tests, its
  # report after theirs: the suite's workers leave a core idle now and then
  local types
  types=$(mktemp)
  "$VENV/bin/mypy" > "$types" 2>&1 &
  local mypy=$!
  local status=0
  # both cores (or every core there is): the suite is CPU-bound
  "$VENV/bin/pytest" -q -n auto --dist worksteal -p no:cacheprovider || status=$?
  wait "$mypy" || status=1
  cat "$types"
  rm -f "$types"
  return "$status"
}

FULL=0
case "${1:-} ${2:-}" in
  "demo ") demo ;;
  "demo --full") FULL=1; demo ;;
  "test ") run_tests ;;
  *) echo "usage: ./dev.sh demo [--full] | ./dev.sh test" >&2; exit 2 ;;
esac
