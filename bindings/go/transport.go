package cxoauth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Transport is an http.RoundTripper that sends requests through Client.Do, so existing
// http.Client code gets the library's token handling and retry policy:
//
//	hc := &http.Client{Transport: client.Transport()}
//	resp, err := hc.Get("https://api.mypurecloud.de/api/v2/organizations/me")
//
// Only URLs on the client's API host are accepted (the token is never sent anywhere else);
// others fail with a CodeInvalidArgument *Error (wrapped by http.Client in a *url.Error).
// The request's Authorization, Host, Content-Length, Transfer-Encoding and Connection headers
// are dropped: the library sets them. The request context cancels the call.
type Transport struct {
	Client *Client
}

// NewTransport returns a Transport sending through c.
func NewTransport(c *Client) *Transport { return &Transport{Client: c} }

// Transport returns an http.RoundTripper sending through c.
func (c *Client) Transport() *Transport { return NewTransport(c) }

var libraryHeaders = []string{"Authorization", "Host", "Content-Length", "Transfer-Encoding", "Connection"}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
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
		Header:        r.Header,
		Body:          io.NopCloser(bytes.NewReader(r.Body)),
		ContentLength: int64(len(r.Body)),
		Request:       req,
	}, nil
}

// Token is an access token shaped like golang.org/x/oauth2's Token (without importing it).
type Token struct {
	AccessToken string
	TokenType   string // always "Bearer"
	// Expiry is zero: the library does not expose it, and it refreshes the token itself.
	// Ask the TokenSource each time instead of caching the token (in particular do not wrap
	// it in oauth2.ReuseTokenSource, which would treat a zero Expiry as "never expires").
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

// Valid reports whether the token is non-empty.
func (t *Token) Valid() bool { return t != nil && t.AccessToken != "" }

// String never shows the token itself.
func (t *Token) String() string { return t.Type() + " <redacted>" }

// GoString never shows the token itself.
func (t *Token) GoString() string { return t.String() }

// TokenSource is an oauth2.TokenSource-style adapter: Token() returns the client's current
// (cached, refreshed) token. Adapt it to x/oauth2 with a two-line wrapper type.
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

// Token returns the client's current access token.
func (s *TokenSource) Token() (*Token, error) {
	tok, err := s.client.Token(s.ctx)
	if err != nil {
		return nil, err
	}
	return &Token{AccessToken: tok, TokenType: "Bearer"}, nil
}
