package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	// The answers' encoder: the standard library's output, byte for
	// byte (see TestAnswerEncoding), in a fraction of the time.
	"github.com/segmentio/encoding/json"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
)

// errorBody is the one shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

// errorDetail is the inside of an error answer.
type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

// writeError answers with err: the status of its kind, its code and its
// client-safe message. Internal errors are logged with their detail and
// shown as "internal error"; failures of a service we depend on are logged
// too.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := federation.StatusOf(err)
	code, msg := mosaic.ErrorCode(err), mosaic.ErrorMessage(err)
	id := federation.RequestID(r.Context())
	switch {
	case mosaic.ErrorKind(err) == mosaic.KindInternal:
		code = "internal"
		s.log.ErrorContext(r.Context(), "internal error",
			slog.String(logRequestID, id), slog.Any(logError, err))
	case status >= http.StatusInternalServerError:
		s.log.WarnContext(r.Context(), "dependency failed",
			slog.String(logRequestID, id), slog.String("code", code), slog.Any(logError, err))
	}
	writeErrorBody(w, r, status, code, msg)
}

// writeErrorBody writes an error answer with the request's id.
func writeErrorBody(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	id := federation.RequestID(r.Context())
	noteErrorCode(r, code)
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg, RequestID: id}})
}

// retryAfterDefault is the Retry-After, in seconds, of a 503 (and of a
// 429 that does not set its own): the database, the CA or the audit log
// failing for a moment.
const retryAfterDefault = "5"

// writeJSON renders v as the JSON answer with the given status. Answers are
// never cached: some carry a token or a certificate meant for one client.
// A 503 or 429 always says when to try again.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := getAnswerBuffer()
	defer putAnswerBuffer(buf)
	data, err := json.Append((*buf)[:0], v, answerFlags)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"code":"internal","message":"internal error","requestId":""}}`)
	}
	data = append(data, '\n')
	*buf = data
	writeAnswer(w, status, data)
}

// writeAnswer writes data, a JSON answer ending in a newline, with the
// given status and the headers of every JSON answer.
func writeAnswer(w http.ResponseWriter, status int, data []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	setRetryAfter(h, status)
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// answerFlags are the flags answers are encoded with, as Marshal's: the
// standard library's escaping and key order.
const answerFlags = json.EscapeHTML | json.SortMapKeys

// answerBuffers holds buffers answers are encoded into.
var answerBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledAnswer is the largest buffer kept for another answer.
const maxPooledAnswer = 256 << 10

// getAnswerBuffer takes a buffer from answerBuffers.
func getAnswerBuffer() *[]byte { return answerBuffers.Get().(*[]byte) }

// putAnswerBuffer gives buf back to answerBuffers unless it grew too
// large; what it holds must no longer be used.
func putAnswerBuffer(buf *[]byte) {
	if cap(*buf) <= maxPooledAnswer {
		answerBuffers.Put(buf)
	}
}

// setRetryAfter gives a 503 or 429 answer a Retry-After unless it has one.
func setRetryAfter(h http.Header, status int) {
	retry := status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests
	if retry && h.Get("Retry-After") == "" {
		h.Set("Retry-After", retryAfterDefault)
	}
}

// items wraps a listing as {"items":[...]}, never null.
func items[T any](list []T) map[string]any {
	if list == nil {
		list = []T{}
	}
	return map[string]any{"items": list}
}
