package federation

import (
	"encoding/base64"

	"github.com/mosaicgw/mosaic"
)

// EncodeCursor returns the opaque cursor that continues a listing after the
// row with id last, or "" when there is no next page.
func EncodeCursor(last string) string {
	if last == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(last))
}

// DecodeCursor returns the row id a cursor continues after, or "" for an
// empty cursor. Anything that EncodeCursor could not have produced is
// KindInvalid "invalid_cursor".
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil || mosaic.ValidateID("cursor", string(b)) != nil {
		return "", mosaic.Errorf(mosaic.KindInvalid, "invalid_cursor", "cursor: not a valid cursor")
	}
	return string(b), nil
}
