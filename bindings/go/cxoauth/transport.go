package cxoauth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Transport is an http.RoundTripper adding the client's token to requests, so existing
// http.Client code gets the library's token handling:
//
//	hc := &http.Client{Transport: client.Transport()}
//	resp, err := hc.Get("https://api.mypurecloud.de/api/v2/organizations/me")
//
// With Base nil (the default) every request is sent by the library (Client.Do): its retry
// policy applies (401 → the rejected token is invalidated, a new one fetched and the request
// retried once; 429 Retry-After; 5xx for idempotent methods), the request body is read into
// memory first, and only URLs on the client's API host are accepted (the token is never sent
// anywhere else; others fail with a CodeInvalidArgument *Error, wrapped by http.Client in a
// *url.Error). The request's Authorization, Host, Content-Length, Transfer-Encoding and
// Connection headers are dropped: the library sets them.
//
// With Base set, Base sends the request (streamed bodies, your own proxy, TLS and connection
// settings) with "Authorization: Bearer <token>" from Client.TokenWithExpiry, like
// golang.org/x/oauth2's Transport. On a 401 reply the sent token is invalidated
// (Client.InvalidateToken) and a replayable request (no body, or req.GetBody set, as
// http.NewRequest does for in-memory bodies) is sent once more with a new token; a
// non-replayable one returns the 401. The library's other retries do not apply, and the token
// goes to whatever URL is requested (including redirects): use such a Transport only in an
// http.Client for the API host.
//
// Either way the response keeps repeated headers (Set-Cookie, ...) as separate values, in the
// order received, and the request context cancels the call.
type Transport struct {
	Client *Client
	// Base sends the requests when set (see above); nil sends them through the library.
	Base http.RoundTripper
}

// NewTransport returns a Transport sending through c (Base nil).
func NewTransport(c *Client) *Transport { return &Transport{Client: c} }

// Transport returns an http.RoundTripper sending through c (Base nil).
func (c *Client) Transport() *Transport { return NewTransport(c) }

var libraryHeaders = []string{"Authorization", "Host", "Content-Length", "Transfer-Encoding", "Connection"}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Base != nil {
		return t.roundTripBase(req)
	}
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("cxoauth: reading the request body: %w", err)
		}
	}
	if req.URL == nil {
		return nil, &Error{Code: CodeInvalidArgument, Message: "request has no URL"}
	}
	target := req.URL.RequestURI()
	if req.URL.Scheme != "" || req.URL.Host != "" {
		target = req.URL.String()
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	header := req.Header.Clone()
	for _, k := range libraryHeaders {
		header.Del(k)
	}
	r, err := t.Client.Do(req.Context(), method, target, header, body)
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", r.StatusCode, http.StatusText(r.StatusCode)),
		StatusCode:    r.StatusCode,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.Header, // repeated headers as separate values, order kept
		Body:          io.NopCloser(bytes.NewReader(r.Body)),
		ContentLength: int64(len(r.Body)),
		Request:       req,
	}, nil
}

// replayable reports whether req can be sent again: no body, or a GetBody to get a new one.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// roundTripBase sends req through t.Base with the client's token; see Transport.
func (t *Transport) roundTripBase(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	tok, _, err := t.Client.TokenWithExpiry(req.Context())
	if err != nil {
		closeBody() // a RoundTripper always closes the request body
		return nil, err
	}
	resp, err := t.Base.RoundTrip(withToken(req, req.Body, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// The token was rejected: drop it from the library's cache (unless it has already been
	// replaced: compare-and-invalidate), then replay the request once with a new one.
	_ = t.Client.InvalidateToken(tok)
	if !replayable(req) {
		return resp, nil
	}
	body := req.Body
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if body, err = req.GetBody(); err != nil {
			return resp, nil // cannot replay: the 401 is the answer
		}
	}
	tok2, _, err := t.Client.TokenWithExpiry(req.Context())
	if err != nil {
		if body != req.Body {
			body.Close()
		}
		return resp, nil // no new token: the 401 is the answer
	}
	// Only now is the first response discarded (drained, so its connection is reused).
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
	return t.Base.RoundTrip(withToken(req, body, tok2))
}

// withToken returns a shallow copy of req (a RoundTripper must not modify its request) with
// body and the Authorization header.
func withToken(req *http.Request, body io.ReadCloser, token string) *http.Request {
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// Token is an access token shaped like golang.org/x/oauth2's Token (without importing it;
// the oauth2 subpackage returns a real *oauth2.Token).
type Token struct {
	AccessToken string
	TokenType   string // always "Bearer"
	// Expiry is when the server said the token expires (oauth_get_token_ex). The library
	// refreshes its cache before then (refresh_margin_s), so asking the TokenSource each time
	// is cheap; a cache of your own (oauth2.ReuseTokenSource) may keep it until Expiry.
	Expiry time.Time
}

// Type returns the token type ("Bearer").
func (t *Token) Type() string {
	if t.TokenType == "" {
		return "Bearer"
	}
	return t.TokenType
}

// SetAuthHeader sets the Authorization header of r.
func (t *Token) SetAuthHeader(r *http.Request) {
	r.Header.Set("Authorization", t.Type()+" "+t.AccessToken)
}

// Valid reports whether the token is non-empty and not past its Expiry.
func (t *Token) Valid() bool {
	return t != nil && t.AccessToken != "" && (t.Expiry.IsZero() || time.Now().Before(t.Expiry))
}

// String never shows the token itself.
func (t *Token) String() string { return t.Type() + " <redacted>" }

// GoString never shows the token itself.
func (t *Token) GoString() string { return t.String() }

// TokenSource is an oauth2.TokenSource-style adapter: Token() returns the client's current
// (cached, refreshed) token with its expiry. For a real golang.org/x/oauth2.TokenSource use
// the oauth2 subpackage.
type TokenSource struct {
	client *Client
	ctx    context.Context
}

// TokenSource returns a token source using ctx for every Token call (nil: Background).
func (c *Client) TokenSource(ctx context.Context) *TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	return &TokenSource{client: c, ctx: ctx}
}

// Token returns the client's current access token and its expiry.
func (s *TokenSource) Token() (*Token, error) {
	tok, exp, err := s.client.TokenWithExpiry(s.ctx)
	if err != nil {
		return nil, err
	}
	return &Token{AccessToken: tok, TokenType: "Bearer", Expiry: exp}, nil
}
