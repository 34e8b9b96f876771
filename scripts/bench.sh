#!/usr/bin/env bash
# Runs the benchmarks of issue 6 and writes BENCHMARKS.md (see bench/).
#
# Usage: scripts/bench.sh        (or: make bench)
#   BENCH_QUICK=1       quick mode: every measurement, short (about 3 minutes)
#   BENCH_PROFILE=1     also profile reads and enrollment in process and add
#                       the top 10 hot spots of each to the report
#   BENCH_POSTGRES_URL  PostgreSQL server for throwaway databases
#                       (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   BENCH_KEEP=1        keep the working directory (logs, results.json)
#   BENCH_OUT           report path (default BENCHMARKS.md)
#   BENCH_BASELINE      git ref of the "before" gateways, measured beside the
#                       current tree in the same runs for the report's "Before
#                       and after" (default 02e33b8, the last commit before the
#                       current optimisation work; none skips the comparison).
#                       It is checked out in a temporary worktree and built there.
#
# Needs: go, nginx (Debian: apt-get install -y nginx-light), a PostgreSQL
# server, and step-ca (built once by scripts/build-step-ca.sh). Everything
# runs on loopback and is stopped at the end.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$SECONDS

command -v nginx >/dev/null || {
  echo "bench: nginx is required (apt-get install -y nginx-light)" >&2
  exit 1
}
step_ca=$(scripts/build-step-ca.sh)

bin=$(mktemp -d "${TMPDIR:-/tmp}/mosaic-bench-bin.XXXXXX")
baseline_src=""
cleanup() {
  if [[ -n $baseline_src ]]; then
    git worktree remove --force "$baseline_src" >/dev/null 2>&1 || true
  fi
  rm -rf "$bin"
  [[ -z $baseline_src ]] || git worktree prune >/dev/null 2>&1 || true
}
trap cleanup EXIT
echo "bench: building mosaic, loadgen and bench" >&2
CGO_ENABLED=0 go build -o "$bin/mosaic" ./cmd/mosaic
CGO_ENABLED=0 go build -o "$bin/loadgen" ./bench/cmd/loadgen
CGO_ENABLED=0 go build -o "$bin/bench" ./bench/cmd/bench

# The "before" gateways: BENCH_BASELINE checked out apart and built there.
baseline=${BENCH_BASELINE:-02e33b8}
baseline_args=()
if [[ $baseline != none ]]; then
  commit=$(git rev-parse --verify --quiet "$baseline^{commit}") || {
    echo "bench: BENCH_BASELINE=$baseline is not a commit of this repository" >&2
    exit 1
  }
  baseline_src="$bin/baseline-src"
  if ! git worktree add --detach "$baseline_src" "$commit" >"$bin/baseline.log" 2>&1; then
    echo "bench: BENCH_BASELINE=$baseline: git worktree add failed:" \
      "$(grep -m1 . "$bin/baseline.log")" >&2
    exit 1
  fi
  echo "bench: building the baseline, $(git log -1 --format='%h %s' "$commit")" >&2
  if ! (cd "$baseline_src" && CGO_ENABLED=0 go build -o "$bin/mosaic-baseline" ./cmd/mosaic) \
    >"$bin/baseline.log" 2>&1; then
    echo "bench: BENCH_BASELINE=$baseline does not build:" \
      "$(grep -v -m1 '^#' "$bin/baseline.log")" >&2
    exit 1
  fi
  baseline_args=(-baseline "$bin/mosaic-baseline"
    -baseline-ref "$(git log -1 --format='%h (%s)' "$commit")")
fi

# Kinds of work whose share summarize_profile reports: label|pprof function.
read_kinds='TLS handshakes|crypto/tls\.\(\*Conn\)\.serverHandshake$
TLS record writes (encryption)|crypto/tls\.\(\*Conn\)\.Write$
client certificate check per request|federation\.\(\*Service\)\.verifyClientCert$
grant, peer and serial lookups|federation\.\(\*Service\)\.checkGrant$
page read (sqlstore ReadPage)|sqlstore\.\(\*DB\)\.ReadPage$
audit write (sqlstore AppendAudit)|sqlstore\.\(\*DB\)\.AppendAudit$
SQLite statement preparation (SQL parsing)|sqlite/lib\._sqlite3LockAndPrepare$
JSON encoding of answers|httpapi\.writeJSON$
request logging (log/slog)|log/slog\.\(\*Logger\)\.(log|logAttrs)$
garbage collection (background marking)|runtime\.gcBgMarkWorker$'
enroll_kinds='CSR parse and signature check (pki.ParseCSR)|pki\.ParseCSR$
signing (embedded CA)|embedded\.\(\*CA\)\.Sign$
check of the issued certificate (pki.VerifyIssued)|pki\.VerifyIssued$
token lookup (sqlstore FindToken)|sqlstore\.\(\*DB\)\.FindToken$
token claim (sqlstore ClaimToken)|sqlstore\.\(\*DB\)\.ClaimToken$
activation transaction (sqlstore ActivateGrant)|sqlstore\.\(\*DB\)\.ActivateGrant$
SQLite statement preparation (SQL parsing)|sqlite/lib\._sqlite3LockAndPrepare$
request logging (log/slog)|log/slog\.\(\*Logger\)\.(log|logAttrs)$
garbage collection (background marking)|runtime\.gcBgMarkWorker$'

# summarize_profile BINARY PROFILE KINDS prints the top 10 functions by own
# time, the gateway's own functions (each counting the library code it
# calls), and the cumulative share of each kind of work in KINDS.
summarize_profile() {
  go tool pprof -top -nodecount=10 "$1" "$2" 2>/dev/null | sed -n '/^Duration/p;/flat%/,$p'
  echo
  echo "Gateway functions, each counting the library code it calls:"
  go tool pprof -top -nodecount=10 -show='^github.com/mosaicgw/' "$1" "$2" 2>/dev/null |
    sed -n '/flat%/,$p'
  echo
  echo "Selected work, share of all samples including callees:"
  local cum label re pct
  cum=$(go tool pprof -top -cum -nodecount=100000 "$1" "$2" 2>/dev/null)
  while IFS='|' read -r label re; do
    pct=$(grep -E "$re" <<<"$cum" | head -1 | awk '{print $5}' || true)
    printf '  %-52s %s\n' "$label" "${pct:-0%}"
  done <<<"$3"
}

profiles=()
if [[ ${BENCH_PROFILE:-} == 1 ]]; then
  prof="$bin/profiles"
  mkdir -p "$prof"
  secs=10
  [[ ${BENCH_QUICK:-} == 1 ]] && secs=3
  echo "bench: profiling reads and enrollment in process (${secs}s each)" >&2
  BENCH_LOADGEN="$bin/loadgen" BENCH_PROFILE_DIR="$prof" BENCH_PROFILE_SECONDS=$secs \
    CGO_ENABLED=0 go test -run '^$' -bench '^BenchmarkProfile' -benchtime 1x \
    -o "$bin/bench.test" ./bench/
  summarize_profile "$bin/bench.test" "$prof/reads.prof" "$read_kinds" >"$prof/reads.txt"
  summarize_profile "$bin/bench.test" "$prof/enroll.prof" "$enroll_kinds" >"$prof/enroll.txt"
  profiles=(-profiles "$prof")
fi

"$bin/bench" -mosaic "$bin/mosaic" -loadgen "$bin/loadgen" -step-ca "$step_ca" \
  -step-init deploy/step-ca/init.sh -nginx "$(command -v nginx)" \
  -out "${BENCH_OUT:-BENCHMARKS.md}" "${profiles[@]}" "${baseline_args[@]}"
echo "bench: done in $((SECONDS - start))s" >&2
