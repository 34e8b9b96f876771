package seal

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/mosaicgw/mosaic"
)

// VersionCount is how many values of a table are sealed under one key
// version. Version 0 counts values that are not sealed values at all.
type VersionCount struct {
	Table   mosaic.SealedTable `json:"table"`
	Version uint32             `json:"version"`
	Count   int64              `json:"count"`
}

// CountVersions counts the sealed values of every table by key version,
// reading only their headers.
func CountVersions(ctx context.Context, store mosaic.SealedStore) ([]VersionCount, error) {
	var out []VersionCount
	for _, table := range mosaic.SealedTables() {
		counts, err := store.CountSealed(ctx, table, headerLen)
		if err != nil {
			return nil, fmt.Errorf("seal: count %s: %w", table, err)
		}
		byVersion := map[uint32]int64{}
		var order []uint32
		for _, c := range counts {
			v := headerVersion(c.Prefix)
			if _, seen := byVersion[v]; !seen {
				order = append(order, v)
			}
			byVersion[v] += c.Count
		}
		for _, v := range order {
			out = append(out, VersionCount{Table: table, Version: v, Count: byVersion[v]})
		}
	}
	return out, nil
}

// headerVersion returns the key version of a sealed value's header, or 0
// when the bytes are not such a header.
func headerVersion(header []byte) uint32 {
	if len(header) != headerLen || header[0] != formatV1 {
		return 0
	}
	return binary.BigEndian.Uint32(header[1:headerLen])
}
