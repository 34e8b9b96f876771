package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mosaicgw/mosaic"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 64 << 10

// maxJSONDepth bounds the nesting of a request body; no request of this API
// nests deeper than a few levels.
const maxJSONDepth = 32

// decodeJSON reads the request body into dst, a pointer to a request struct,
// strictly: Content-Type application/json (else 415), at most MaxBodyBytes
// whether or not a Content-Length was sent (else 413), syntactically valid,
// a JSON object (not null, an array or a scalar), no duplicate key at any
// level, every key exactly a json tag of the field it fills (so neither
// unknown nor case-folded keys pass), and nothing after the value. Every
// failure is a *mosaic.Error.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	// encoding/json would replace invalid UTF-8 and lone surrogate escapes
	// with U+FFFD, storing something other than what was sent.
	if !utf8.Valid(body) || hasLoneSurrogate(body) {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_json",
			"request body is not valid UTF-8 JSON text")
	}
	if err := checkKeys(body, reflect.TypeOf(dst)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	return nil
}

// hasLoneSurrogate reports whether a JSON text holds a \u escape of a
// UTF-16 surrogate that is not part of a high-low pair. It tracks string
// boundaries and escaped backslashes so that text such as "\\ud800" is
// not mistaken for an escape.
func hasLoneSurrogate(body []byte) bool {
	inString := false
	pendingHigh := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !inString {
			inString = c == '"'
			continue
		}
		if c != '\\' {
			if pendingHigh {
				return true
			}
			inString = c != '"'
			continue
		}
		i++
		if i >= len(body) {
			return false
		}
		if body[i] != 'u' || i+4 >= len(body) {
			if pendingHigh {
				return true
			}
			continue
		}
		v, err := strconv.ParseUint(string(body[i+1:i+5]), 16, 16)
		i += 4
		if err != nil {
			return false // the decoder reports the bad escape
		}
		switch {
		case v >= 0xD800 && v < 0xDC00:
			if pendingHigh {
				return true
			}
			pendingHigh = true
		case v >= 0xDC00 && v < 0xE000:
			if !pendingHigh {
				return true
			}
			pendingHigh = false
		default:
			if pendingHigh {
				return true
			}
		}
	}
	return pendingHigh
}

// decodeOptionalJSON is decodeJSON for a body that may be left out: a
// request with an empty body leaves dst as it is.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decodeJSON(w, r, dst)
}

// checkContentType accepts application/json with at most a UTF-8 charset.
func checkContentType(header string) error {
	unsupported := mosaic.Errorf(mosaic.KindUnsupported, "unsupported_media_type",
		"request body must be application/json")
	mt, params, err := mime.ParseMediaType(header)
	if err != nil || mt != "application/json" {
		return unsupported
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return unsupported
		}
	}
	return nil
}

// readBody reads the whole body, refusing one over MaxBodyBytes; a declared
// length over the limit is refused before anything is read.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := mosaic.Errorf(mosaic.KindTooLarge, "body_too_large",
		"request body larger than %d bytes", MaxBodyBytes)
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge
	}
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindInvalid, "invalid_body",
			"request body could not be read", err)
	}
	return body, nil
}

// decodeError turns an encoding/json error into a client error.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		what := "request body"
		if typeErr.Field != "" {
			what = "field " + typeErr.Field
		}
		return mosaic.WrapError(mosaic.KindInvalid, "invalid_json", what+": wrong type", err)
	}
	if strings.HasPrefix(err.Error(), "json: unknown field") {
		return mosaic.WrapError(mosaic.KindInvalid, "unknown_field", "unknown field", err)
	}
	return syntaxError(err)
}

// keyWalker checks the keys of a JSON document against the Go type it will
// be decoded into, token by token.
type keyWalker struct {
	dec *json.Decoder
}

// checkKeys walks body as JSON meant for a value of type t: it rejects
// syntax errors, a body that is not an object, duplicate keys, keys that
// are not exactly a field's json tag, nesting deeper than maxJSONDepth, and
// data after the value.
func checkKeys(body []byte, t reflect.Type) error {
	kw := keyWalker{dec: json.NewDecoder(bytes.NewReader(body))}
	kw.dec.UseNumber()
	if err := kw.topObject(t); err != nil {
		return err
	}
	if _, err := kw.dec.Token(); err != io.EOF {
		return mosaic.Errorf(mosaic.KindInvalid, "trailing_data",
			"request body has data after the JSON value")
	}
	return nil
}

// topObject walks the body's value, which must be an object: every request
// body of this API is one, and null or any other value would leave the
// request struct silently empty.
func (kw keyWalker) topObject(t reflect.Type) error {
	tok, err := kw.dec.Token()
	if err == io.EOF {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_json", "request body is empty or truncated")
	}
	if err != nil {
		return syntaxError(err)
	}
	if tok != json.Delim('{') {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_json", "body must be a JSON object")
	}
	return kw.object(t, "", 0)
}

// value walks one JSON value.
func (kw keyWalker) value(t reflect.Type, path string, depth int) error {
	if depth > maxJSONDepth {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_json", "request body nests too deeply")
	}
	tok, err := kw.dec.Token()
	if err == io.EOF {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_json", "request body is empty or truncated")
	}
	if err != nil {
		return syntaxError(err)
	}
	switch tok {
	case json.Delim('{'):
		return kw.object(t, path, depth)
	case json.Delim('['):
		return kw.array(t, path, depth)
	}
	return nil
}

// object walks the members of an object whose '{' was read.
func (kw keyWalker) object(t reflect.Type, path string, depth int) error {
	fields := jsonFields(t)
	seen := map[string]bool{}
	for kw.dec.More() {
		tok, err := kw.dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		key, _ := tok.(string)
		name := joinPath(path, key)
		if seen[key] {
			return mosaic.Errorf(mosaic.KindInvalid, "duplicate_key", "duplicate key %q", name)
		}
		seen[key] = true
		ft, err := fieldType(t, fields, key, name)
		if err != nil {
			return err
		}
		if err := kw.value(ft, name, depth+1); err != nil {
			return err
		}
	}
	_, err := kw.dec.Token() // the closing '}'
	if err != nil {
		return syntaxError(err)
	}
	return nil
}

// array walks the elements of an array whose '[' was read.
func (kw keyWalker) array(t reflect.Type, path string, depth int) error {
	elem := elemType(t)
	for kw.dec.More() {
		if err := kw.value(elem, path+"[]", depth+1); err != nil {
			return err
		}
	}
	_, err := kw.dec.Token() // the closing ']'
	if err != nil {
		return syntaxError(err)
	}
	return nil
}

// fieldType returns the type a member's value decodes into. In a struct the
// key must be exactly a field's json tag; in a map or an untyped value any
// key goes.
func fieldType(t reflect.Type, fields map[string]reflect.Type, key, name string) (
	reflect.Type, error) {
	if fields == nil {
		return elemType(t), nil
	}
	ft, ok := fields[key]
	if !ok {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "unknown_field", "unknown field %q", name)
	}
	return ft, nil
}

// textUnmarshaler and jsonUnmarshaler are types that decode themselves,
// such as time.Time; their insides are not walked.
var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
)

// concrete strips pointers from t; it returns nil for types whose JSON
// shape is their own business (interfaces, self-decoding types).
func concrete(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		return nil
	}
	return t
}

// jsonFields maps the json tags of a struct type to their field types, or
// returns nil when t is not a struct.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	t = concrete(t)
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// elemType returns the type of the elements of a slice, array or map type,
// or nil for anything else.
func elemType(t reflect.Type) reflect.Type {
	t = concrete(t)
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return t.Elem()
	}
	return nil
}

// joinPath names a member for an error message.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// syntaxError is the error of a body that is not valid JSON.
func syntaxError(err error) error {
	return mosaic.WrapError(mosaic.KindInvalid, "invalid_json", "request body is not valid JSON", err)
}
