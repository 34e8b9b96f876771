package federation

import (
	"net/http"

	"github.com/mosaicgw/mosaic"
)

// StatusOf returns the HTTP status code of an error: the one status its
// mosaic.Kind maps to. Audit events record it, and the HTTP layer answers
// with it, so both agree.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	switch mosaic.ErrorKind(err) {
	case mosaic.KindInvalid:
		return http.StatusBadRequest
	case mosaic.KindUnauthorized:
		return http.StatusUnauthorized
	case mosaic.KindForbidden:
		return http.StatusForbidden
	case mosaic.KindNotFound:
		return http.StatusNotFound
	case mosaic.KindConflict:
		return http.StatusConflict
	case mosaic.KindGone:
		return http.StatusGone
	case mosaic.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case mosaic.KindUnsupported:
		return http.StatusUnsupportedMediaType
	case mosaic.KindRateLimited:
		return http.StatusTooManyRequests
	case mosaic.KindUpstream:
		return http.StatusBadGateway
	case mosaic.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
