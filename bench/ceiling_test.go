package bench

import (
	"context"
	"testing"
)

// BenchmarkCeiling is one enrollment's cryptography on one goroutine.
func BenchmarkCeiling(b *testing.B) {
	csrs, err := NewCSRs(16)
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewCeiling(context.Background(), csrs)
	if err != nil {
		b.Fatal(err)
	}
	for _, verify := range []bool{false, true} {
		name := map[bool]string{false: "sign", true: "sign+verify"}[verify]
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if err := c.once(context.Background(), csrs[i%len(csrs)], verify); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
