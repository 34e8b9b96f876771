package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// wantBody fails the test unless a is a 200 whose body is want, with its
// length in Content-Length.
func wantBody(t *testing.T, step string, a *answer, want []byte) {
	t.Helper()
	a.wantStatus(t, http.StatusOK)
	if !bytes.Equal(a.body, want) {
		t.Fatalf("%s: body\n%s\nwant\n%s", step, a.body, want)
	}
	if n := a.header.Get("Content-Length"); n != strconv.Itoa(len(want)) {
		t.Fatalf("%s: Content-Length %s for %d bytes", step, n, len(want))
	}
}

// TestFederatedReadsShareEncoding reads one page from many clients at
// once over mutual TLS: every answer is the same, to the byte. A change to
// a task is in the very next answer.
func TestFederatedReadsShareEncoding(t *testing.T) {
	g := startGateway(t)
	ada, _, cert := readSetup(t, g)
	c := g.fedClient(t, cert)
	const path = "/api/federation/v1/tasks?limit=100"
	first := g.fedDo(t, c, "GET", path, nil)
	first.wantStatus(t, http.StatusOK)
	var page readPage
	first.decode(t, &page)
	if len(page.Items) != 3 || page.NextCursor == "" || !page.LimitCapped {
		t.Fatalf("first page = %s", first.body)
	}

	const clients, reads = 8, 5
	errs := make(chan error, clients)
	for range clients {
		go func() {
			errs <- func() error {
				for range reads {
					req, err := http.NewRequest("GET", g.fed.URL+path, nil)
					if err != nil {
						return err
					}
					a, err := trySend(c, req)
					if err != nil {
						return err
					}
					if a.status != http.StatusOK || !bytes.Equal(a.body, first.body) {
						return fmt.Errorf("answer %d %s, want %s", a.status, a.body, first.body)
					}
				}
				return nil
			}()
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	// A change outside the gateway, with characters to escape.
	id := page.Items[0]["id"].(string)
	if _, err := g.rawSQLite(t).Exec(`UPDATE tasks SET title = ? WHERE id = ? AND user_id = ?`,
		"<changed> & \u2028", id, ada.ID); err != nil {
		t.Fatal(err)
	}
	want := bytes.Replace(first.body, []byte(`"title":"t"`),
		[]byte(`"title":"\u003cchanged\u003e \u0026 \u2028"`), 1)
	wantBody(t, "after the change", g.fedDo(t, c, "GET", path, nil), want)
	wantBody(t, "after the change, again", g.fedDo(t, c, "GET", path, nil), want)
}

// TestFederatedReadsNoSealedSecret reads credentials twice, the second
// time from the cache: neither answer holds the secret, sealed or not.
func TestFederatedReadsNoSealedSecret(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	const secret = "hunter2-plain-secret"
	g.adminDo(t, "POST", "/api/admin/credentials", map[string]any{"userId": ada.ID,
		"name": "mail", "kind": "password", "secret": secret}).wantStatus(t, http.StatusCreated)
	gr := g.createGrant(t, ada.ID, map[string]any{"resources": []string{"credentials"},
		"max_rows_per_query": 10})
	c := g.fedClient(t, g.enroll(t, g.issueToken(t, gr.ID).Token))

	var sealed []byte
	if err := g.rawSQLite(t).QueryRow(`SELECT sealed_secret FROM credentials`).
		Scan(&sealed); err != nil || len(sealed) == 0 {
		t.Fatalf("sealed secret: %d bytes, %v", len(sealed), err)
	}
	forms := []string{secret, string(sealed), base64.StdEncoding.EncodeToString(sealed),
		base64.RawURLEncoding.EncodeToString(sealed), hex.EncodeToString(sealed), "sealed"}
	first := g.fedDo(t, c, "GET", "/api/federation/v1/credentials", nil)
	for i, a := range []*answer{first, g.fedDo(t, c, "GET", "/api/federation/v1/credentials", nil)} {
		wantBody(t, "read "+strconv.Itoa(i), a, first.body)
		body := strings.ToLower(string(a.body))
		for _, f := range forms {
			if strings.Contains(body, strings.ToLower(f)) {
				t.Fatalf("read %d holds the secret: %s", i, a.body)
			}
		}
		if !strings.Contains(body, `"name":"mail"`) {
			t.Fatalf("read %d: %s", i, a.body)
		}
	}
}
