package rp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// push sends an authorization request to the pushed authorization request
// endpoint (RFC 9126) and returns the request_uri to send the browser
// with.
func (c *Client) push(ctx context.Context, params url.Values) (string, error) {
	if c.meta.PushedAuthorizationRequestEndpoint == "" {
		return "", errors.New("rp: PAR: the provider has no pushed_authorization_request_endpoint")
	}
	var res struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int64  `json:"expires_in"`
	}
	// The body is the whole authorization request, client_id included
	// (RFC 9126 §2.1), plus the client's authentication. RFC 9126 §2.2
	// answers 201; 200 from lenient servers is tolerated.
	err := c.postForm(ctx, c.meta.PushedAuthorizationRequestEndpoint, params, &res, http.StatusCreated, http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("rp: PAR: %w", err)
	}
	if res.RequestURI == "" {
		return "", errors.New("rp: PAR: response has no request_uri")
	}
	return res.RequestURI, nil
}
