// Command example gets a token (printing only its first 6 characters and its expiry) and calls
// GET /api/v2/organizations/me through the cxoauth Go binding, then once more through an
// http.Client using the binding's Transport, with the library's log lines going to a
// log/slog logger (warnings and errors, on stderr) and its counters printed at the end.
//
// Config: the JSON object in CXOAUTH_CONFIG if set, else the library's environment defaults
// (GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET, GENESYSCLOUD_REGION).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/cxoauth/cxoauth/bindings/go/cxoauth"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		var e *cxoauth.Error
		if errors.As(err, &e) {
			fmt.Fprintf(os.Stderr, "  code=%v http_status=%d oauth_code=%q correlation_id=%q\n",
				e.Code, e.HTTPStatus, e.OAuthCode, e.CorrelationID)
		}
		os.Exit(1)
	}
}

func run() error {
	// Process-wide: the library's lines as slog records (never a secret or a token).
	cxoauth.SetLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer cxoauth.SetLogger(nil)

	client, err := cxoauth.NewClientJSON(os.Getenv("CXOAUTH_CONFIG")) // "" = from the environment
	if err != nil {
		return err
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	token, expiry, err := client.TokenWithExpiry(ctx)
	if err != nil {
		return err
	}
	prefix := token
	if len(prefix) > 6 {
		prefix = prefix[:6]
	}
	fmt.Printf("cxoauth %s: token %s... (%d chars), expires in %s\n", cxoauth.Version(), prefix,
		len(token), time.Until(expiry).Round(time.Second))

	resp, err := client.Get(ctx, "/api/v2/organizations/me")
	if err != nil {
		return err
	}
	fmt.Printf("GET /api/v2/organizations/me -> %d\n%s\n", resp.StatusCode, resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("unexpected HTTP status %d", resp.StatusCode)
	}

	// The same through net/http: the Transport adds the token (and keeps repeated headers
	// such as Set-Cookie as separate values). Absolute URLs must be on the API host.
	hc := &http.Client{Transport: client.Transport()}
	req, err := http.NewRequestWithContext(ctx, "GET", "/api/v2/organizations/me", nil)
	if err != nil {
		return err
	}
	hr, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer hr.Body.Close()
	_, _ = io.Copy(io.Discard, hr.Body)
	fmt.Printf("via http.Client -> %d, %d Set-Cookie header(s)\n", hr.StatusCode, len(hr.Header.Values("Set-Cookie")))
	if hr.StatusCode != 200 {
		return fmt.Errorf("unexpected HTTP status %d", hr.StatusCode)
	}

	s, err := client.Stats()
	if err != nil {
		return err
	}
	fmt.Printf("stats: %d token fetch(es), %d cache hit(s), %d request(s), %d retried after 401\n",
		s.TokenFetches, s.TokenCacheHits, s.Requests, s.Retries.Unauthorized)
	return nil
}
