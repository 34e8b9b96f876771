package mosaic

import "testing"

// TestSealedRefAAD pins the additional data of each sealed column: values
// already in databases are bound to exactly these bytes.
func TestSealedRefAAD(t *testing.T) {
	tests := []struct {
		ref  SealedRef
		want string
	}{
		{SealedRef{SealedKeys, "ca-root"}, "mosaic/key/ca-root"},
		{SealedRef{SealedPeerKeys, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
			"mosaic/peer-key/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
		{SealedRef{SealedCredentials, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"},
			"mosaic/credential/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"},
		{SealedRef{"users", "x"}, "mosaic/unknown/users/x"},
	}
	for _, tt := range tests {
		if got := string(tt.ref.AAD()); got != tt.want {
			t.Errorf("AAD of %s = %q, want %q", tt.ref, got, tt.want)
		}
	}
	if got := len(SealedTables()); got != 3 {
		t.Errorf("SealedTables lists %d tables, want keys, peers and credentials", got)
	}
}
