#!/usr/bin/env bash
# The installed package works from any folder: clone, `pip install .` into a fresh virtual
# environment, then run the conformance suite, the fuzzer and the bundled backtest from an
# empty folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone --quiet "$root" "$work/clone"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$work/clone"
mkdir "$work/empty"
cd "$work/empty"
"$work/venv/bin/liqspec" conformance --impl "$work/venv/bin/liqspec adapter"
"$work/venv/bin/liqspec" fuzz --impl "$work/venv/bin/liqspec adapter" --examples 200
"$work/venv/bin/liqspec" backtest --json > /dev/null  # the bundled samples, from the package
"$work/venv/bin/liqspec" generate path --points 10 > /dev/null
"$work/venv/bin/liqspec" stress --runs 1 --json > /dev/null  # the bundled template
sample="$("$work/venv/bin/python" -c 'from liqspec.base.files import get_bundled; print(get_bundled("audit", "two-violations.jsonl"))')"
status=0
"$work/venv/bin/liqspec" audit "$sample" --json > /dev/null || status=$?
if [ "$status" -ne 1 ]; then  # the sample's two seeded violations: exit 1
    echo "audit of the bundled sample exited $status, not 1" >&2
    exit 1
fi
venues="$("$work/venv/bin/python" -c 'from liqspec.base.files import get_bundled; print(get_bundled("audit", "venues"))')"
markets="$("$work/venv/bin/python" -c 'from liqspec.base.files import get_bundled; print(get_bundled("markets"))')"
status=0
"$work/venv/bin/liqspec" audit "$venues/hyperliquid-node-fills.jsonl" --format hyperliquid-node-fills \
    --market "$markets/hyperliquid-btc-2024.toml" --json > /dev/null || status=$?
if [ "$status" -ne 1 ]; then  # the venue sample's two seeded faults: exit 1
    echo "audit of the bundled Hyperliquid sample exited $status, not 1" >&2
    exit 1
fi
leftovers="$(ls -A)"
if [ -n "$leftovers" ]; then
    echo "the commands wrote into the working folder: $leftovers" >&2
    exit 1
fi
echo "check-install: the installed package passed every vector, the fuzzer found nothing, the bundled backtest and stress template ran, and the audits found the samples' violations"
