package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic/docs"
	"github.com/mosaicgw/mosaic/httpapi"
)

// federationServer is the server the document names on the paths of the
// federation listener; paths without servers of their own are the admin
// listener's.
const federationServer = "https://127.0.0.1:8443"

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPIDoc is the part of an OpenAPI document the tests read.
type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

// openAPIOp is the part of an operation the tests read.
type openAPIOp struct {
	Parameters  []openAPIParam             `json:"parameters"`
	RequestBody json.RawMessage            `json:"requestBody"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

// openAPIParam is a parameter of a path item or an operation.
type openAPIParam struct {
	Name string `json:"name"`
	In   string `json:"in"`
}

// fetchOpenAPI gets the document from the admin API without the token and
// checks it is the committed file, byte for byte.
func fetchOpenAPI(t *testing.T, g *gateway) []byte {
	t.Helper()
	req, err := http.NewRequest("GET", g.admin.URL+"/api/openapi.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := send(t, g.admin.Client(), req)
	a.wantStatus(t, http.StatusOK)
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	committed, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.body, committed) || !bytes.Equal(docs.OpenAPI(), committed) {
		t.Error("the served document is not docs/openapi.json")
	}
	return a.body
}

// documentedRoutes returns the operations of doc as route patterns, split
// by the listener that serves them.
func documentedRoutes(t *testing.T, doc *openAPIDoc) (admin, fed []string) {
	t.Helper()
	for path, item := range doc.Paths {
		listener := &admin
		if raw, ok := item["servers"]; ok {
			var servers []struct{ URL string }
			if err := json.Unmarshal(raw, &servers); err != nil || len(servers) != 1 ||
				servers[0].URL != federationServer {
				t.Errorf("%s: servers %s, want only %s", path, raw, federationServer)
			}
			listener = &fed
		}
		for _, m := range openAPIMethods {
			if _, ok := item[m]; ok {
				*listener = append(*listener, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(admin)
	slices.Sort(fed)
	return admin, fed
}

// compareRoutes reports the routes in one list and not the other.
func compareRoutes(t *testing.T, api string, served, documented []string) {
	t.Helper()
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("%s API serves %q, which the document leaves out", api, r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("the document has %q, which the %s API does not serve", r, api)
		}
	}
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	g := startGateway(t)
	var doc openAPIDoc
	if err := json.Unmarshal(fetchOpenAPI(t, g), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}

	admin, fed := documentedRoutes(t, &doc)
	servedAdmin, servedFed := httpapi.Routes(g.adminH), httpapi.Routes(g.fedH)
	if len(servedAdmin) == 0 || len(servedFed) == 0 {
		t.Fatalf("routes: admin %v, federation %v", servedAdmin, servedFed)
	}
	compareRoutes(t, "admin", servedAdmin, admin)
	compareRoutes(t, "federation", servedFed, fed)

	if got := httpapi.Routes(http.NotFoundHandler()); got != nil {
		t.Errorf("Routes of another handler = %v, want nil", got)
	}
}

// pathParam matches a wildcard of a route pattern.
var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func TestOpenAPIOperations(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(docs.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths {
		var shared []openAPIParam
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				t.Fatalf("%s parameters: %v", path, err)
			}
		}
		for _, m := range openAPIMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			t.Run(strings.ToUpper(m)+" "+path, func(t *testing.T) {
				var op openAPIOp
				if err := json.Unmarshal(raw, &op); err != nil {
					t.Fatal(err)
				}
				checkOperation(t, m, path, append(slices.Clip(shared), op.Parameters...), &op)
			})
		}
	}
}

// checkOperation checks that an operation has a success answer, the error
// answer as its default, a body when it is a POST or PATCH, and a path
// parameter for each wildcard of its path.
func checkOperation(t *testing.T, method, path string, params []openAPIParam, op *openAPIOp) {
	t.Helper()
	success := false
	for code := range op.Responses {
		success = success || strings.HasPrefix(code, "2")
	}
	if !success {
		t.Error("no 2xx answer")
	}
	var def struct {
		Ref string `json:"$ref"`
	}
	if err := json.Unmarshal(op.Responses["default"], &def); err != nil ||
		def.Ref != "#/components/responses/Error" {
		t.Errorf("default answer = %s, want the error answer", op.Responses["default"])
	}
	if (method == "post" || method == "patch") && len(op.RequestBody) == 0 {
		t.Error("no request body")
	}
	for _, w := range pathParam.FindAllStringSubmatch(path, -1) {
		if !slices.Contains(params, openAPIParam{Name: w[1], In: "path"}) {
			t.Errorf("no path parameter %q", w[1])
		}
	}
}

func TestOpenAPIReferencesResolve(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(docs.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	refs := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs++
				if !resolves(doc, ref) {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if refs == 0 {
		t.Error("no $ref found")
	}

	// Every error answer carries the one error shape.
	responses, _ := doc["components"].(map[string]any)["responses"].(map[string]any)
	for name, r := range responses {
		data, _ := json.Marshal(r)
		if !strings.Contains(string(data), `"#/components/schemas/Error"`) {
			t.Errorf("answer %s does not use the Error schema", name)
		}
	}
}

// resolves reports whether a local JSON pointer reference names a value
// in doc.
func resolves(doc map[string]any, ref string) bool {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var cur any = doc
	for _, tok := range strings.Split(ptr, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[tok]; !ok {
			return false
		}
	}
	return true
}
