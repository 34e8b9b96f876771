#!/usr/bin/env bash
# Builds the step-ca server pinned in tools/go.mod (module
# github.com/smallstep/certificates), once, and prints the binary's path.
#
# The binary goes to $MOSAIC_TOOLS_DIR/step-ca-<version>/step-ca
# (MOSAIC_TOOLS_DIR defaults to ~/.cache/mosaic-tools); when it is already
# there nothing is built. The ca/stepca integration tests find it through
# MOSAIC_STEP_CA_BIN:
#
#   MOSAIC_STEP_CA_BIN=$(scripts/build-step-ca.sh) go test ./ca/stepca/
#
# Needs: go (modules from the Go module proxy). Build output goes to stderr.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/tools"
version=$(go list -m -f '{{.Version}}' github.com/smallstep/certificates)
out="${MOSAIC_TOOLS_DIR:-$HOME/.cache/mosaic-tools}/step-ca-$version"
bin="$out/step-ca"

if [[ ! -x $bin ]]; then
  mkdir -p "$out"
  tmp=$(mktemp "$out/.step-ca.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  start=$SECONDS
  echo "build-step-ca: building step-ca $version into $out" >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "-X main.Version=$version" -o "$tmp" \
    github.com/smallstep/certificates/cmd/step-ca
  chmod 755 "$tmp"
  mv "$tmp" "$bin"
  trap - EXIT
  echo "build-step-ca: built in $((SECONDS - start))s" >&2
fi
echo "$bin"
