package httpapi

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
)

// answerStrings are values that need escaping, or that are easy to get
// wrong, written to every text field of every resource.
var answerStrings = []string{"", "plain", "<b>&amp;</b>", "a<b>c&d", "\u2028\u2029",
	`"\/`, "é€😀", "bad\xffutf8", "tab\tnew\nline", "\x00\x01\x1f\x7f"}

// answerEnv is a gateway where Ada owns rows of every resource holding
// answerStrings, and a peer reads all of them.
type answerEnv struct {
	g    *fedtest.Gateway
	peer *fedtest.Enrollment
}

// newAnswerEnv seeds the rows through the store, as data written before
// today's validation or by another tool would be.
func newAnswerEnv(t *testing.T) *answerEnv {
	t.Helper()
	ctx := context.Background()
	g := fedtest.New(t, fedtest.Options{})
	ada := g.User(t, "Ada")
	st := g.Store
	for _, s := range answerStrings {
		u := &mosaic.User{Name: s, Email: mosaic.NewID() + s + "@example.com", EmailVerified: true}
		must(t, st.CreateUser(ctx, u))
		must(t, st.CreateTeam(ctx, &mosaic.Team{Name: s, MemberIDs: []string{ada.ID, u.ID}}))
		must(t, st.CreateTask(ctx, &mosaic.Task{UserID: ada.ID, Title: s}))
		must(t, st.CreateNote(ctx, &mosaic.Note{UserID: ada.ID, Title: s, Body: s}))
		must(t, st.CreateCredential(ctx, &mosaic.Credential{UserID: ada.ID, Name: s, Kind: s,
			SealedSecret: []byte("sealed <secret> " + s)}))
	}
	peer := g.Enroll(t, ada.ID, fedtest.Scope(100, mosaic.ResourceTasks, mosaic.ResourceNotes,
		mosaic.ResourceCredentials, mosaic.ResourceUsers, mosaic.ResourceTeams))
	return &answerEnv{g: g, peer: peer}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// read reads one page.
func (e *answerEnv) read(t *testing.T, resource, limit, cursor, since string) *federation.FederatedPage {
	t.Helper()
	page, err := e.g.Svc.ReadFederated(context.Background(), federation.FederatedRequest{
		Certs: e.peer.Chain(t), Resource: resource, Limit: limit, Cursor: cursor, Since: since,
		Source: "127.0.0.1:1", RequestID: "req-" + mosaic.NewID(),
	})
	must(t, err)
	return page
}

// wantSameAnswer writes page with writeRead and as readAnswer with
// writeJSON, and fails the test unless both answers, and the standard
// library's encoding, are the same to the byte.
func wantSameAnswer(t *testing.T, step string, page *federation.FederatedPage) []byte {
	t.Helper()
	answer := readAnswer{Items: page.Items, NextCursor: page.NextCursor,
		LimitApplied: page.LimitApplied, LimitCapped: page.LimitCapped}
	if answer.Items == nil {
		answer.Items = []any{}
	}
	want := httptest.NewRecorder()
	writeJSON(want, 200, answer)
	got := httptest.NewRecorder()
	writeRead(got, page)

	if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) {
		t.Fatalf("%s: answer %d %v, want %d %v", step, got.Code, got.Header(), want.Code,
			want.Header())
	}
	if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Fatalf("%s: answer\n%s\nwant\n%s", step, got.Body, want.Body)
	}
	std, err := stdjson.Marshal(answer)
	must(t, err)
	if !bytes.Equal(got.Body.Bytes(), append(std, '\n')) {
		t.Fatalf("%s: answer\n%s\nthe standard library's\n%s", step, got.Body, std)
	}
	return got.Body.Bytes()
}

// TestReadAnswerBytes reads every page of every resource, at several
// limits, twice: the answers writeRead writes, with the items' encoding
// made on the first read and shared by the second, are those writeJSON
// writes, to the byte, headers included.
func TestReadAnswerBytes(t *testing.T) {
	e := newAnswerEnv(t)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, r := range []mosaic.Resource{mosaic.ResourceTasks, mosaic.ResourceNotes,
		mosaic.ResourceCredentials, mosaic.ResourceUsers, mosaic.ResourceTeams} {
		for _, limit := range []string{"", "1", "3", "1000"} {
			pages := 0
			for cursor := ""; ; pages++ {
				step := string(r) + "?limit=" + limit + "&cursor=" + cursor
				first := wantSameAnswer(t, step, e.read(t, string(r), limit, cursor, ""))

				// The second read shares the items' encoding of the first.
				page := e.read(t, string(r), limit, cursor, "")
				if _, err := page.ItemsForm(itemsJSON, func([]any) (any, int, error) {
					t.Fatalf("%s: the items are encoded again", step)
					return nil, 0, nil
				}); err != nil {
					t.Fatal(err)
				}
				if again := wantSameAnswer(t, step+" again", page); !bytes.Equal(again, first) {
					t.Fatalf("%s: the second answer differs from the first", step)
				}
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			if limit == "1" && pages < len(answerStrings)-1 {
				t.Fatalf("%s: %d pages at limit 1", r, pages+1)
			}
		}

		// An empty page, and a page not from a cache.
		empty := e.read(t, string(r), "", "", future)
		if len(empty.Items) != 0 || bytes.Contains(wantSameAnswer(t, string(r)+" empty", empty),
			[]byte("null")) {
			t.Fatalf("%s: the empty page is not an empty array", r)
		}
		page := e.read(t, string(r), "", "", "")
		wantSameAnswer(t, string(r)+" not cached", &federation.FederatedPage{
			Items: page.Items, NextCursor: page.NextCursor,
			LimitApplied: page.LimitApplied, LimitCapped: page.LimitCapped,
		})
		wantSameAnswer(t, string(r)+" nothing", &federation.FederatedPage{})
	}
}

// BenchmarkReadAnswer writes the answer of a cached page of 100 tasks:
// encoded whole each time, and with its items' encoding shared.
func BenchmarkReadAnswer(b *testing.B) {
	ctx := context.Background()
	g := fedtest.New(b, fedtest.Options{})
	ada := g.User(b, "Ada")
	for range 100 {
		if _, err := g.Svc.CreateTask(ctx, mosaic.Task{UserID: ada.ID,
			Title: "Write the quarterly report"}); err != nil {
			b.Fatal(err)
		}
	}
	peer := g.Enroll(b, ada.ID, fedtest.Scope(100, mosaic.ResourceTasks))
	page, err := g.Svc.ReadFederated(ctx, federation.FederatedRequest{
		Certs: peer.Chain(b), Resource: "tasks", Source: "127.0.0.1:1", RequestID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	answer := readAnswer{Items: page.Items, NextCursor: page.NextCursor,
		LimitApplied: page.LimitApplied, LimitCapped: page.LimitCapped}
	w := discardWriter{http.Header{}}
	b.Run("writeJSON", func(b *testing.B) {
		for b.Loop() {
			writeJSON(w, 200, answer)
		}
	})
	b.Run("writeRead", func(b *testing.B) {
		for b.Loop() {
			writeRead(w, page)
		}
	})
}

// discardWriter is a ResponseWriter that keeps nothing but its headers.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}
