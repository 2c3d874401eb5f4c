package cxoauth

// Issue 27: json.Marshal and slog of a Config never show its secrets; Config.JSON() (what the
// library gets) keeps the real values.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestConfigMarshalJSONAndSlogRedact(t *testing.T) {
	cfg := testConfig()
	cfg.AccessKeySecret = "Access-Key-Canary"
	cfg.TokenCache = "redis://user:Redis-Canary@127.0.0.1:6379"
	cfg.Extra = map[string]any{"future_secret": "Extra-Canary"}
	canaries := []string{testSecret, "Access-Key-Canary", "Redis-Canary", "Extra-Canary"}
	leaks := func(what, s string) {
		t.Helper()
		for _, c := range canaries {
			if strings.Contains(s, c) {
				t.Errorf("%s shows a secret", what)
			}
		}
		if !strings.Contains(s, "redacted") || !strings.Contains(s, simBase) {
			t.Errorf("%s: not the redacted config", what)
		}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	leaks("json.Marshal(Config)", string(b))
	b, _ = json.Marshal(&cfg)
	leaks("json.Marshal(*Config)", string(b))
	b, _ = json.Marshal(map[string]any{"nested": []Config{cfg}})
	leaks("json.Marshal(nested Config)", string(b))
	for _, h := range []func(io.Writer) slog.Handler{
		func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
		func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("starting", "config", cfg, "ptr", &cfg)
		leaks("slog", buf.String())
	}
	// Config.JSON() is what the library gets: the real values.
	raw, err := cfg.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["client_secret"] != testSecret || m["access_key_secret"] != "Access-Key-Canary" || m["future_secret"] != "Extra-Canary" {
		t.Fatal("Config.JSON() does not carry the real values")
	}
	delete(cfg.Extra, "future_secret")
	cfg.AccessKeySecret, cfg.TokenCache = "", ""
	c := newTestClient(t, cfg)
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
}
