// Command example gets a token (printing only its first 6 characters) and calls
// GET /api/v2/organizations/me through the cxoauth Go binding.
//
// Config: the JSON object in CXOAUTH_CONFIG if set, else the library's environment defaults
// (GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET, GENESYSCLOUD_REGION).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	cxoauth "github.com/cxoauth/cxoauth/bindings/go"
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
	client, err := cxoauth.NewClientJSON(os.Getenv("CXOAUTH_CONFIG")) // "" = from the environment
	if err != nil {
		return err
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	token, err := client.Token(ctx)
	if err != nil {
		return err
	}
	prefix := token
	if len(prefix) > 6 {
		prefix = prefix[:6]
	}
	fmt.Printf("cxoauth %s: token %s... (%d chars)\n", cxoauth.Version(), prefix, len(token))

	resp, err := client.Get(ctx, "/api/v2/organizations/me")
	if err != nil {
		return err
	}
	fmt.Printf("GET /api/v2/organizations/me -> %d\n%s\n", resp.StatusCode, resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("unexpected HTTP status %d", resp.StatusCode)
	}
	return nil
}
