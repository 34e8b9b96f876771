package federation_test

import (
	"context"
	"crypto/x509"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
)

// idsForm derives the ids and titles of a page's items, joined, counting
// the derivations. A credential that carries its sealed secret fails it.
func idsForm(calls *atomic.Int64) func(items []any) (any, int, error) {
	return func(items []any) (any, int, error) {
		calls.Add(1)
		var ids []string
		for _, it := range items {
			switch v := it.(type) {
			case *mosaic.Task:
				ids = append(ids, v.ID+"="+v.Title)
			case *mosaic.Note:
				ids = append(ids, v.ID+"="+v.Title)
			case *mosaic.Credential:
				if v.SealedSecret != nil {
					return nil, 0, fmt.Errorf("credential %s carries its sealed secret", v.ID)
				}
				ids = append(ids, v.ID+"="+v.Name)
			}
		}
		s := strings.Join(ids, ",")
		return s, len(s), nil
	}
}

// readForm reads the first page of a resource and derives its ids' form
// under name.
func readForm(t *testing.T, svc *federation.Service, certs []*x509.Certificate,
	resource, limit, name string, calls *atomic.Int64) string {
	t.Helper()
	page, err := svc.ReadFederated(context.Background(), federation.FederatedRequest{
		Certs: certs, Resource: resource, Limit: limit, Source: source,
		RequestID: "req-" + mosaic.NewID(),
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := page.ItemsForm(name, idsForm(calls))
	if err != nil {
		t.Fatal(err)
	}
	return v.(string)
}

// TestReadItemsFormShared reads one page, once cached, from many
// goroutines at once: the form of its items is derived once, and seen by
// all; a form of another name is derived apart. (Reads that miss the cache
// at once may each cache the page, with a memo each.)
func TestReadItemsFormShared(t *testing.T) {
	e := newReadEnv(t)
	leaf := e.enrolled.Chain(t)
	want := strings.Join([]string{e.adaTasks[0] + "=task", e.adaTasks[1] + "=task"}, ",")
	if _, err := e.read(leaf, "tasks", "2", "", ""); err != nil {
		t.Fatal(err)
	}

	const readers = 16
	var calls atomic.Int64
	errs := make(chan error, readers)
	for range readers {
		go func() {
			errs <- func() error {
				page, err := e.read(leaf, "tasks", "2", "", "")
				if err != nil {
					return err
				}
				v, err := page.ItemsForm("test.ids", idsForm(&calls))
				if err != nil {
					return err
				}
				if v != want {
					return fmt.Errorf("form %q, want %q", v, want)
				}
				return nil
			}()
		}()
	}
	for range readers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d reads of one page derived its form %d times, want once", readers, n)
	}
	if got := readForm(t, e.g.Svc, leaf, "tasks", "2", "test.other", &calls); got != want ||
		calls.Load() != 2 {
		t.Fatalf("a form of another name: %q after %d derivations", got, calls.Load())
	}
}

// TestReadItemsFormFromTheRead changes the items of a read before their
// form is derived: the form is made from the items as the read made them.
func TestReadItemsFormFromTheRead(t *testing.T) {
	e := newReadEnv(t)
	page, err := e.read(e.enrolled.Chain(t), "tasks", "1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	page.Items[0] = &mosaic.Task{ID: "forged", Title: "forged"}
	var calls atomic.Int64
	v, err := page.ItemsForm("test.ids", idsForm(&calls))
	if err != nil {
		t.Fatal(err)
	}
	if want := e.adaTasks[0] + "=task"; v != want {
		t.Fatalf("form %q, want %q", v, want)
	}
}

// TestReadItemsFormAfterChange changes a task and creates a note: the very
// next read derives the form again, from the changed page.
func TestReadItemsFormAfterChange(t *testing.T) {
	e := newReadEnv(t)
	leaf := e.enrolled.Chain(t)
	var calls atomic.Int64
	first := e.adaTasks[0] + "=task"
	if got := readForm(t, e.g.Svc, leaf, "tasks", "1", "test.ids", &calls); got != first {
		t.Fatalf("form %q, want %q", got, first)
	}

	// A change outside the service, as another replica's would be.
	raw, err := sql.Open("sqlite", "file:"+e.g.DBPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE tasks SET title = ? WHERE id = ?`, "changed",
		e.adaTasks[0]); err != nil {
		t.Fatal(err)
	}
	want := e.adaTasks[0] + "=changed"
	if got := readForm(t, e.g.Svc, leaf, "tasks", "1", "test.ids", &calls); got != want ||
		calls.Load() != 2 {
		t.Fatalf("after a change: form %q after %d derivations, want %q after 2", got,
			calls.Load(), want)
	}

	// A change through the service, to another resource of the user.
	notes := readForm(t, e.g.Svc, leaf, "notes", "", "test.ids", &calls)
	note, err := e.g.Svc.CreateNote(context.Background(),
		mosaic.Note{UserID: e.ada.ID, Title: "new", Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	want = notes + "," + note.ID + "=new"
	if got := readForm(t, e.g.Svc, leaf, "notes", "", "test.ids", &calls); got != want {
		t.Fatalf("after a new note: form %q, want %q", got, want)
	}
}

// secretStore is the gateway's store whose pages carry credentials with
// their sealed secret, as a store that filled it in would return them.
type secretStore struct {
	*fedtest.FaultStore
	filled atomic.Int64
}

// ReadPage reads the page and gives its credentials a sealed secret.
func (s *secretStore) ReadPage(ctx context.Context, q mosaic.PageQuery) (*mosaic.Page, error) {
	page, err := s.FaultStore.ReadPage(ctx, q)
	if err != nil {
		return nil, err
	}
	for i, it := range page.Items {
		if c, ok := it.(*mosaic.Credential); ok {
			cp := *c
			cp.SealedSecret = []byte("sealed-secret")
			page.Items[i] = &cp
			s.filled.Add(1)
		}
	}
	return page, nil
}

// TestReadItemsFormNoSecrets reads credentials from a store that fills in
// their sealed secrets: the form shared between reads is made from the
// credentials without them.
func TestReadItemsFormNoSecrets(t *testing.T) {
	e := newReadEnv(t)
	g := e.g
	store := &secretStore{FaultStore: g.Faults}
	svc := federation.New(federation.Config{
		Store: store, CA: g.FaultCA, Sealer: g.Sealer, Logger: g.Logger,
		PublicURL: g.PublicURL, CAPin: g.CA.Pin(), CAPEM: pki.EncodeCerts(g.CA.Root()),
	})
	var calls atomic.Int64
	for range 3 {
		got := readForm(t, svc, e.credsPeer.Chain(t), "credentials", "", "test.ids", &calls)
		if !strings.HasSuffix(got, "=mail") || strings.Contains(got, "sealed") {
			t.Fatalf("form %q", got)
		}
	}
	if store.filled.Load() != 3 || calls.Load() != 1 {
		t.Fatalf("%d secrets filled in, %d derivations; want 3 and 1", store.filled.Load(),
			calls.Load())
	}
}
