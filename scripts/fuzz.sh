#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded time, one after
# another, and fails if any of them finds a crash or a broken property.
#
# The targets are those `go test -list '^Fuzz' $FUZZPKGS` names (default
# ./..., the whole module); a package that does not build fails the run, so
# no target is skipped unnoticed. Each
# target runs with -fuzztime "$FUZZTIME" (default 10s) and
# -fuzzminimizetime "$FUZZMINIMIZETIME" (default 2s: go's own default of 60s
# lets the shrinking of new inputs stall a short run for most of its time).
# Every target runs even after one fails; go test writes a failing input to
# <package>/testdata/fuzz/<Target>/, where it becomes a regression seed once
# committed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fuzztime=${FUZZTIME:-10s}
minimizetime=${FUZZMINIMIZETIME:-2s}
read -r -a pkgs <<<"${FUZZPKGS:-./...}"

# go test -list prints the matching names of a package, then "ok" and the
# package; a package without tests prints "?" and its path instead.
listing=$(go test -list '^Fuzz' "${pkgs[@]}") || {
  echo "fuzz: go test -list failed" >&2
  exit 1
}
targets=()
names=()
while IFS= read -r line; do
  case $line in
    Fuzz*) names+=("$line") ;;
    ok*)
      pkg=$(awk '{print $2}' <<<"$line")
      for name in "${names[@]}"; do targets+=("$pkg $name"); done
      names=()
      ;;
    *) names=() ;;
  esac
done <<<"$listing"
if ((${#targets[@]} == 0)); then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi

echo "fuzz: ${#targets[@]} targets, $fuzztime each (minimize $minimizetime):"
printf '  %s\n' "${targets[@]}"

# run_target fuzzes one target. The fuzzing engine sometimes ends a run
# with a bare "context deadline exceeded" when a worker is slow to stop at
# the time limit, without any failing input; such a run is tried once more.
# A real failure writes its input and fails again.
run_target() {
  local pkg=$1 name=$2 out
  for attempt in 1 2; do
    out=$(mktemp)
    if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" \
      -fuzzminimizetime "$minimizetime" "$pkg" 2>&1 | tee "$out"; then
      rm -f "$out"
      return 0
    fi
    if grep -q 'Failing input written to' "$out" ||
      ! grep -q 'context deadline exceeded' "$out" || ((attempt == 2)); then
      rm -f "$out"
      return 1
    fi
    rm -f "$out"
    echo "fuzz: $name stopped with a bare deadline error and no failing input; trying again"
  done
}

failed=()
start=$SECONDS
for target in "${targets[@]}"; do
  read -r pkg name <<<"$target"
  echo "fuzz: == $name ($pkg)"
  t0=$SECONDS
  if ! run_target "$pkg" "$name"; then
    failed+=("$target")
  fi
  echo "fuzz: $name took $((SECONDS - t0))s"
done

echo "fuzz: ${#targets[@]} targets in $((SECONDS - start))s"
if ((${#failed[@]} > 0)); then
  echo "fuzz: FAIL:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: PASS"
