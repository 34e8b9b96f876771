#!/usr/bin/env bash
# Two Mosaic gateways federating end to end on loopback.
#
# Gateway B holds a user's data and grants gateway A read access to part of
# it; A enrolls, reads, is refused what the grant excludes, and is cut off by
# a revocation. Then the same enrollment and read are done with openssl and
# curl alone. Every step is checked; any deviation exits non-zero. Every
# process started here is stopped on exit.
#
# Needs: go, curl, openssl, jq. KEEP=1 keeps the temporary directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
for tool in go curl openssl jq; do
  command -v "$tool" >/dev/null || { echo "demo: $tool is required" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mosaic-demo.XXXXXX")
chmod 700 "$work"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "${KEEP:-}" ]]; then echo "demo: kept $work"; else rm -rf "$work"; fi
  if ((rc == 0)); then echo "demo: PASS"; else echo "demo: FAIL (exit $rc)" >&2; fi
  exit "$rc"
}
trap cleanup EXIT

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
fail() { echo "demo: FAIL: $*" >&2; exit 1; }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: got '$1', want '$2'"; }

step "build mosaic"
(cd "$root" && CGO_ENABLED=0 go build -o "$work/mosaic" ./cmd/mosaic)
mosaic="$work/mosaic"

# start NAME: runs a gateway on free loopback ports with its own data
# directory and waits until its admin API answers.
start() {
  local name=$1 dir="$work/$1"
  mkdir -p "$dir"
  "$mosaic" gateway serve --data-dir "$dir" \
    --admin-addr 127.0.0.1:0 --federation-addr 127.0.0.1:0 \
    >"$work/$name.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 100); do
    if [[ -s "$dir/admin.json" ]] &&
      curl -fsS "$(jq -r .adminUrl "$dir/admin.json")/healthz" >/dev/null 2>&1; then
      echo "gateway $name: admin $(jq -r .adminUrl "$dir/admin.json")," \
        "federation $(jq -r .publicUrl "$dir/admin.json")"
      return
    fi
    sleep 0.1
  done
  cat "$work/$name.log" >&2
  fail "gateway $name did not start"
}
B() { "$mosaic" --data-dir "$work/b" "$@"; }
A() { "$mosaic" --data-dir "$work/a" "$@"; }

step "start gateways A (peer) and B (grantor)"
start a
start b

step "B: a user with tasks, notes and a credential; another user"
alice=$(B user create --name "Alice Example" --email alice@b.example --json | jq -r .id)
bob=$(B user create --name "Bob Other" --email bob@b.example --json | jq -r .id)
for t in "Write the quarterly report" "Review the federation design" "Renew certificates"; do
  B task create --user "$alice" --title "$t" --json | jq -r '"task \(.id) \(.title)"'
done
B task create --user "$bob" --title "Bob's private task" >/dev/null
B note create --user "$alice" --title "Standup" --body "Federation demo today." --json |
  jq -r '"note \(.id) \(.title)"'
B note create --user "$alice" --title "Ideas" --body "Short-lived certificates." >/dev/null
printf 'hunter2-not-federated' |
  B credential create --user "$alice" --name "mail password" --kind password >/dev/null
B user list
B task list --user "$alice"

step "B: grant A read access to Alice's tasks and notes, 2 rows per request"
cat >"$work/scope.json" <<'JSON'
{"resources": ["tasks", "notes"], "excluded_resources": ["credentials"], "max_rows_per_query": 2}
JSON
grant=$(B federation grant create --user "$alice" --peer-name "Gateway A" \
  --scope "$work/scope.json" --json | jq -r .id)
B federation grant show "$grant"

step "B: a single-use enrollment token (shown once)"
B federation grant token "$grant" --ttl 600 --json >"$work/token.json"
jq -r '"expires \(.expiresAt) (ttl \(.ttlSeconds)s)\nurl     \(.enrollmentUrl | sub("enrollment/[^#]+"; "enrollment/<token>"))"' \
  "$work/token.json"
(umask 077; jq -r .enrollmentUrl "$work/token.json" >"$work/enroll-url")

step "A: enroll with B (CA pin checked before the CSR is sent)"
peer=$(A federation peer add --url-file "$work/enroll-url" --name "Gateway B" --json | jq -r .id)
A federation peer list
expect_eq "$(B federation grant show "$grant" --json | jq -r .status)" active "grant status on B"

step "A: read Alice's tasks over mTLS (capped at 2 rows, cursor to the next page)"
A federation query "$peer" tasks --limit 10
page1=$(A federation query "$peer" tasks --limit 10 --json)
expect_eq "$(jq '.items | length' <<<"$page1")" 2 "rows on page 1"
expect_eq "$(jq .limitApplied <<<"$page1")" 2 "limit applied"
cursor=$(jq -r .nextCursor <<<"$page1")
[[ -n "$cursor" ]] || fail "page 1 has no next cursor"
page2=$(A federation query "$peer" tasks --cursor "$cursor" --json)
expect_eq "$(jq '.items | length' <<<"$page2")" 1 "rows on page 2"
expect_eq "$(jq -r .nextCursor <<<"$page2")" "" "cursor after the last page"
owners=$(jq -rs '[.[].items[].userId] | unique | join(",")' <<<"$page1$page2")
expect_eq "$owners" "$alice" "owner of every row read"
A federation query "$peer" notes

step "A: credentials are excluded by the grant"
if A federation query "$peer" credentials 2>"$work/denied.txt"; then
  fail "credentials query was allowed"
fi
cat "$work/denied.txt"
grep -q resource_not_in_scope "$work/denied.txt" || fail "wrong denial reason"

step "B: revoke the grant"
B federation grant revoke "$grant" --reason "demo finished"

step "A: the next query is denied"
if A federation query "$peer" tasks 2>"$work/revoked.txt"; then
  fail "query after revocation was allowed"
fi
cat "$work/revoked.txt"
grep -q grant_not_active "$work/revoked.txt" || fail "wrong denial reason after revoke"

step "B: audit log"
B federation audit --limit 20

step "outside tools: openssl makes the key and CSR, curl enrolls and reads"
grant2=$(B federation grant create --user "$alice" --peer-name "curl client" \
  --scope "$work/scope.json" --json | jq -r .id)
B federation grant token "$grant2" --json | jq -r .enrollmentUrl >"$work/enroll-url2"
url=$(<"$work/enroll-url2")
base=${url%%/api/*}
pin=${url##*#ca=sha256:}
enroll=${url%%#*}

# Check B's CA against the pin before sending anything to it.
curl -fsS -k "$base/api/federation/ca" >"$work/b-ca.pem"
openssl x509 -in "$work/b-ca.pem" -noout -pubkey |
  openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1 >"$work/pin.txt"
expect_eq "$(<"$work/pin.txt")" "$pin" "CA pin"
echo "pin verified: sha256:$pin"

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$work/curl-key.pem" -out "$work/curl.csr" -subj "/CN=ignored-by-b" 2>/dev/null
jq -n --rawfile csr "$work/curl.csr" '{csrPem: $csr}' >"$work/enroll.json"
curl -fsS --cacert "$work/b-ca.pem" -H 'Content-Type: application/json' \
  --data @"$work/enroll.json" "$enroll" >"$work/enrolled.json"
jq -r '.certPem, .certChainPem' "$work/enrolled.json" >"$work/curl-cert.pem"
openssl x509 -in "$work/curl-cert.pem" -noout -subject -enddate -ext extendedKeyUsage

out=$(curl -fsS --cacert "$work/b-ca.pem" --cert "$work/curl-cert.pem" \
  --key "$work/curl-key.pem" "$base/api/federation/v1/tasks?limit=50")
jq . <<<"$out"
expect_eq "$(jq '.items | length' <<<"$out")" 2 "rows read with curl"
expect_eq "$(jq .limitCapped <<<"$out")" true "limit capped for curl"

status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$work/b-ca.pem" \
  --cert "$work/curl-cert.pem" --key "$work/curl-key.pem" "$base/api/federation/v1/credentials")
expect_eq "$status" 403 "curl credentials status"

# The token is single use: a retry with the same key (a lost response) gets
# the same certificate back; a different key gets nothing.
again=$(curl -fsS --cacert "$work/b-ca.pem" -H 'Content-Type: application/json' \
  --data @"$work/enroll.json" "$enroll" | jq -r .certPem)
expect_eq "$again" "$(jq -r .certPem "$work/enrolled.json")" "certificate on retry"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$work/other-key.pem" -out "$work/other.csr" -subj "/CN=other" 2>/dev/null
jq -n --rawfile csr "$work/other.csr" '{csrPem: $csr}' >"$work/other.json"
status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$work/b-ca.pem" \
  -H 'Content-Type: application/json' --data @"$work/other.json" "$enroll")
expect_eq "$status" 410 "second redeem with another key"
echo "token reuse with another key refused: 410"

step "B: audit log after the curl path"
B federation audit --grant "$grant2"
