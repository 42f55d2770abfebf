#!/usr/bin/env bash
# Runs the same benchmarks on another commit ("base") and on this checkout ("head"), each bench
# base then head, in one run on one machine: a refactor's before and after, side by side.
#   bench/ab.sh <base-ref> <bench> [<bench> …]     e.g. bench/ab.sh 1a59d8f pickup-latency get-throughput
# Environment variables (JOBS, DURATION_MS, REPEAT, …) pass through to both sides. The base
# checkout borrows this checkout's node_modules, so run `npm ci` here first.
set -euo pipefail
base=$1
shift
here=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
# mktemp makes it 0700: sandboxed trainers (another uid) must read the base checkout's fixtures.
chmod 755 "$tmp"
wt="$tmp/base"
git worktree add -q --detach "$wt" "$base"
cleanup() { git -C "$here" worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
ln -s "$here/node_modules" "$wt/node_modules"
for b in "$@"; do
  for side in base head; do
    if [ "$side" = base ]; then dir=$wt; else dir=$here; fi
    echo "=== $b @ $side ($(git -C "$dir" rev-parse --short HEAD))"
    (cd "$dir" && npx tsx "bench/$b.ts")
  done
done
