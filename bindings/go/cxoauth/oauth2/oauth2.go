// Package oauth2 adapts a cxoauth.Client to golang.org/x/oauth2:
//
//	import (
//		"github.com/cxoauth/cxoauth/bindings/go/cxoauth"
//		cxoauth2 "github.com/cxoauth/cxoauth/bindings/go/cxoauth/oauth2"
//		"golang.org/x/oauth2"
//	)
//
//	ts := cxoauth2.TokenSource(ctx, client)      // an oauth2.TokenSource
//	hc := oauth2.NewClient(ctx, ts)              // x/oauth2's own Transport and caching
//
// The tokens carry their real Expiry (oauth_get_token_ex), so oauth2.ReuseTokenSource and
// oauth2.NewClient (which wraps the source in one) stop using a token before it expires. The
// library caches and refreshes tokens itself, so wrapping the source is optional.
//
// The alias is only needed when golang.org/x/oauth2 is imported in the same file; code that
// just passes the source on can use the package name oauth2.
package oauth2

import (
	"context"

	"github.com/cxoauth/cxoauth/bindings/go/cxoauth"
	xoauth2 "golang.org/x/oauth2"
)

// tokenSource is the oauth2.TokenSource of a cxoauth.Client.
type tokenSource struct {
	ctx    context.Context
	client *cxoauth.Client
}

// TokenSource returns an oauth2.TokenSource whose Token returns the client's current
// (cached, refreshed by the library) access token as a *oauth2.Token with TokenType "Bearer"
// and Expiry, the time the server said it expires. ctx (nil: Background) is used for every
// Token call: its cancellation and deadline abort the token request. Safe for concurrent use.
func TokenSource(ctx context.Context, client *cxoauth.Client) xoauth2.TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	return &tokenSource{ctx: ctx, client: client}
}

// Token implements oauth2.TokenSource.
func (s *tokenSource) Token() (*xoauth2.Token, error) {
	tok, exp, err := s.client.TokenWithExpiry(s.ctx)
	if err != nil {
		return nil, err
	}
	return &xoauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: exp}, nil
}
