#!/usr/bin/env bash
# Initialises a step-ca for a Mosaic gateway's federation certificates.
#
# Usage: deploy/step-ca/init.sh DIR [options]
#
# Writes into DIR (new, or empty) a root CA, an intermediate CA, the
# "mosaic-fed" JWK provisioner with the federation template next to this
# script, and the ca.json step-ca runs from, then prints the gateway's
# STEP_CA_* environment on standard output (the provisioner key is named by
# its file, never printed). The work is done by tools/cmd/mosaic-step-init,
# built from this checkout; no step CLI is needed. Options are passed to it:
#   -address host:port      where step-ca listens (default 127.0.0.1:9000)
#   -dns names              comma-separated TLS names; the first is the URL's host
#   -url URL                the URL the gateway uses (default from -dns and -address)
#   -provisioner name       provisioner name (default mosaic-fed)
#   -default-lifetime, -max-lifetime, -min-lifetime, -backdate  (Go durations)
# Then start step-ca with: step-ca DIR/config/ca.json
#
# Needs: go.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [[ $# -lt 1 || $1 == -* ]]; then
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
dir=$1
shift
case $dir in
  /*) ;;
  *) dir=$PWD/$dir ;;
esac
command -v go >/dev/null || { echo "init.sh: go is required" >&2; exit 1; }

cd "$root/tools"
CGO_ENABLED=0 exec go run ./cmd/mosaic-step-init -dir "$dir" -template "$here/federation.tpl" "$@"
