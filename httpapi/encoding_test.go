package httpapi

import (
	"bytes"
	stdjson "encoding/json"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/mosaicgw/mosaic"
)

// TestAnswerEncoding checks that answers encode exactly as the standard
// library would encode them, strings that need escaping and times of
// every precision included.
func TestAnswerEncoding(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	strs := []string{"", "plain", "<b>&amp;</b>", "\u2028\u2029", "bad\xffutf8", "\x00\x01\x1f\x7f",
		"é€😀", `"\/`, "\xed\xa0\x80", "tab\tnew\nline"}
	for _, s := range strs {
		answers := []any{
			readAnswer{Items: []any{
				&mosaic.Task{ID: s, UserID: s, Title: s, Status: s, CreatedAt: at, UpdatedAt: at},
				&mosaic.Note{ID: s, Title: s, Body: s, CreatedAt: at.Truncate(time.Second)},
				&mosaic.Credential{ID: s, Name: s, Kind: s, SealedSecret: []byte(s)},
				&mosaic.User{ID: s, Name: s, Email: s, EmailVerified: true},
				&mosaic.Team{ID: s, Name: s, MemberIDs: []string{s, s}},
			}, NextCursor: s, LimitApplied: 100, LimitCapped: true},
			errorBody{Error: errorDetail{Code: s, Message: s, RequestID: s}},
			items([]*mosaic.Grant{{ID: s, Scope: mosaic.Scope{Resources: []mosaic.Resource{"tasks"},
				MaxRowsPerQuery: 5}, ActivatedAt: &at}}),
		}
		for _, a := range answers {
			want, err := stdjson.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Append(nil, a, json.EscapeHTML|json.SortMapKeys)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%q: got\n%s\nwant\n%s", s, got, want)
			}
		}
	}
}
