package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/remote"
)

// Admin API call limits.
const (
	// callTimeout bounds an ordinary admin call.
	callTimeout = 30 * time.Second
	// queryTimeout bounds a federated query, which the gateway forwards to
	// a peer.
	queryTimeout = 90 * time.Second
	// maxAnswer caps an admin answer; a federated page can be large.
	maxAnswer = 64 << 20
)

// adminClient calls a gateway's admin API with the bearer token. The token
// goes into the Authorization header only: never into a URL, an error or
// any output.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// newAdminClient returns a client for the admin API at base.
func newAdminClient(base, token string) *adminClient {
	return &adminClient{
		base:  base,
		token: token,
		http: &http.Client{
			// Redirects are not followed: the API never redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// call sends one request and returns the body of a 2xx answer. in, when not
// nil, is sent as JSON. An error answer is returned as an *mosaic.Error with
// the API's code and message.
func (c *adminClient) call(ctx context.Context, timeout time.Duration, method, path string,
	q url.Values, in any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	target := c.base + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, c.unreachable(err)
	}
	if len(data) > maxAnswer {
		return nil, fmt.Errorf("the admin API's answer is larger than %d bytes", maxAnswer)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.apiError(resp.StatusCode, data)
	}
	return data, nil
}

// get, post and patch are call with the default timeout.
func (c *adminClient) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	return c.call(ctx, callTimeout, http.MethodGet, path, q, nil)
}

func (c *adminClient) post(ctx context.Context, path string, in any) ([]byte, error) {
	return c.call(ctx, callTimeout, http.MethodPost, path, nil, in)
}

func (c *adminClient) patch(ctx context.Context, path string, in any) ([]byte, error) {
	return c.call(ctx, callTimeout, http.MethodPatch, path, nil, in)
}

// unreachable describes a failed call. The *url.Error layer repeats the
// method and URL; its cause is enough.
func (c *adminClient) unreachable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the admin API at %s did not answer in time", c.base)
	}
	return fmt.Errorf("cannot reach the admin API at %s (is the gateway running?): %v", c.base, err)
}

// apiError decodes an error answer of the admin API.
func (c *adminClient) apiError(status int, body []byte) error {
	err := remote.DecodeError(status, body)
	if mosaic.ErrorCode(err) == "unexpected_answer" {
		return mosaic.Errorf(remote.KindOfStatus(status), "unexpected_answer",
			"the admin API at %s answered HTTP %d without a valid error", c.base, status)
	}
	return err
}

// decode unmarshals an answer into out.
func decode(data []byte, out any) error {
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the admin API's answer is not the expected JSON: %v", err)
	}
	return nil
}

// pathID escapes one id for a URL path after checking it is an id, so that a
// mistyped argument cannot reach another route.
func pathID(field, id string) (string, error) {
	if err := mosaic.ValidateID(field, id); err != nil {
		return "", err
	}
	return url.PathEscape(id), nil
}
