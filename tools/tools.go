//go:build tools

// Package tools pins the versions of the programs that the gateway's tests
// and deployment scripts build from source: step-ca (scripts/build-step-ca.sh)
// and the helpers under cmd/. It is never built.
package tools

import _ "github.com/smallstep/certificates/cmd/step-ca"
