package cxoauth

// Logging (oauth_set_log_callback), counters (oauth_client_stats) and secret rotation
// (oauth_client_set_credentials, oauth_client_set_access_key).

/*
#include <stdlib.h>
#include <string.h>
#include "cxoauth.h"

extern void cxoauthGoLog(void*, uint32_t, char*);

static oauth_result cxoauth_set_go_log(uint32_t min_level) {
	return oauth_set_log_callback(min_level, (oauth_log_fn)cxoauthGoLog, NULL);
}
*/
import "C"

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

var (
	currentLogger atomic.Pointer[slog.Logger]
	loggerMu      sync.Mutex // orders SetLogger calls (the store and the library's level)
)

// The library's levels (1 error .. 4 debug) and their slog levels.
var logLevels = [...]slog.Level{slog.LevelError, slog.LevelWarn, slog.LevelInfo, slog.LevelDebug}

func slogLevel(level uint32) slog.Level {
	if level >= 1 && int(level) <= len(logLevels) {
		return logLevels[level-1]
	}
	return slog.LevelDebug
}

// SetLogger sends the library's log lines to l, process-wide (all clients, all goroutines):
// token fetches (lifetime, never the token), failed refreshes and their cause, 401 → new
// token, 429 waits, retries, fork detection; never a secret, a token or a query string.
// Levels map 1 error, 2 warn, 3 info, 4 debug → slog.LevelError, LevelWarn, LevelInfo,
// LevelDebug; every record has the attribute logger=cxoauth. nil turns logging off (the
// default: the library never writes to stdout or stderr).
//
// The library is asked only for the levels l's handler is enabled for when SetLogger is
// called (so disabled debug lines cost nothing); call SetLogger again after lowering the
// handler's level (a slog.LevelVar, say) to receive the newly enabled levels. Records are
// logged from library threads, possibly concurrently, as slog handlers allow; a handler must
// not call back into this package.
func SetLogger(l *slog.Logger) {
	loggerMu.Lock()
	defer loggerMu.Unlock()
	if l == nil {
		currentLogger.Store(nil)
		C.oauth_set_log_callback(0, nil, nil)
		return
	}
	min := 0
	for i, lvl := range logLevels {
		if l.Enabled(context.Background(), lvl) {
			min = i + 1
		}
	}
	currentLogger.Store(l)
	if min == 0 {
		C.oauth_set_log_callback(0, nil, nil)
		return
	}
	C.cxoauth_set_go_log(C.uint32_t(min))
}

// Stats are a client's counters and state (oauth_client_stats), decoded from the library's
// JSON (the json tags are its keys).
type Stats struct {
	TokenFetches       uint64 `json:"token_fetches"`        // token requests started
	TokenFetchFailures uint64 `json:"token_fetch_failures"` // ... and failed
	TokenCacheHits     uint64 `json:"token_cache_hits"`     // token reads answered from the cache
	Requests           uint64 `json:"requests"`             // API calls, each counted once however often sent
	Retries            struct {
		RateLimited  uint64 `json:"429"`     // after a 429
		Server       uint64 `json:"5xx"`     // after 502/503/504
		Network      uint64 `json:"network"` // after connection failures, timeouts
		Unauthorized uint64 `json:"401"`     // new token after a 401
	} `json:"retries"` // API attempts sent again, by cause
	// RateLimitedUntilUnixMS: until when the client holds requests back after a 429 with
	// Retry-After (API gate or token endpoint); nil when it does not.
	RateLimitedUntilUnixMS *int64 `json:"rate_limited_until_unix_ms"`
	// TokenExpiresUnixMS: expiry of the cached token; nil without one.
	TokenExpiresUnixMS *int64 `json:"token_expires_unix_ms"`
	// LastError: the last failed call; nil if none failed.
	LastError *StatsError `json:"last_error"`
}

// StatsError is Stats.LastError.
type StatsError struct {
	Code       ResultCode `json:"code"`
	Message    string     `json:"message"`
	TimeUnixMS int64      `json:"time_unix_ms"`
}

// Time returns when the error happened.
func (e *StatsError) Time() time.Time { return time.UnixMilli(e.TimeUnixMS) }

// RateLimitedUntil is RateLimitedUntilUnixMS as a time (zero when nil).
func (s *Stats) RateLimitedUntil() time.Time { return msTime(s.RateLimitedUntilUnixMS) }

// TokenExpires is TokenExpiresUnixMS as a time (zero when nil).
func (s *Stats) TokenExpires() time.Time { return msTime(s.TokenExpiresUnixMS) }

func msTime(ms *int64) time.Time {
	if ms == nil {
		return time.Time{}
	}
	return time.UnixMilli(*ms)
}

// Stats returns the client's counters and state. It makes no network request. After Close
// (the native client is gone) it returns a CodeClosed error.
func (c *Client) Stats() (*Stats, error) {
	raw, err := c.StatsJSON()
	if err != nil {
		return nil, err
	}
	var s Stats
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, &Error{Code: CodeProtocol, Message: "cannot decode oauth_client_stats: " + err.Error()}
	}
	return &s, nil
}

// StatsJSON returns the library's JSON object of Stats as it is (keys added by a newer
// library included).
func (c *Client) StatsJSON() (string, error) {
	var out *C.char
	err := c.call(context.Background(), func(h *C.oauth_client, _ *C.oauth_cancel_token, cerr **C.oauth_error) C.oauth_result {
		return C.oauth_client_stats(h, &out, cerr)
	})
	if err != nil {
		return "", err
	}
	s := C.GoString(out)
	C.oauth_string_free(out)
	return s, nil
}

// secretCString is a C copy of s, and a function wiping and freeing it.
func secretCString(s string) (*C.char, func()) {
	p := C.CString(s)
	return p, func() {
		C.memset(unsafe.Pointer(p), 0, C.size_t(len(s)))
		C.free(unsafe.Pointer(p))
	}
}

func checkNoNULStrings(what string, strs ...string) error {
	for _, s := range strs {
		if strings.IndexByte(s, 0) >= 0 {
			return &Error{Code: CodeInvalidArgument, Message: what + " contains a NUL byte"}
		}
	}
	return nil
}

// SetCredentials replaces the client id and secret (secret rotation): the next token fetch
// uses them; the cached token stays valid until then (InvalidateToken switches at once). A
// remembered failure of the old credentials no longer holds fetches back. Errors: a
// CodeInvalidArgument or, after Close, a CodeClosed *Error.
func (c *Client) SetCredentials(clientID, clientSecret string) error {
	if err := checkNoNULStrings("a credential", clientID, clientSecret); err != nil {
		return err
	}
	id, freeID := secretCString(clientID)
	defer freeID()
	secret, freeSecret := secretCString(clientSecret)
	defer freeSecret()
	return c.call(context.Background(), func(h *C.oauth_client, _ *C.oauth_cancel_token, cerr **C.oauth_error) C.oauth_result {
		return C.oauth_client_set_credentials(h, id, secret, cerr)
	})
}

// SetAccessKey (NICE CXone) replaces the client id and secret and the access key used by the
// access-key grant, as SetCredentials does. Empty arguments, or a client whose grant uses no
// access key (Genesys, generic), are a CodeInvalidArgument error.
func (c *Client) SetAccessKey(clientID, clientSecret, accessKeyID, accessKeySecret string) error {
	if err := checkNoNULStrings("a credential", clientID, clientSecret, accessKeyID, accessKeySecret); err != nil {
		return err
	}
	id, f1 := secretCString(clientID)
	defer f1()
	secret, f2 := secretCString(clientSecret)
	defer f2()
	keyID, f3 := secretCString(accessKeyID)
	defer f3()
	keySecret, f4 := secretCString(accessKeySecret)
	defer f4()
	return c.call(context.Background(), func(h *C.oauth_client, _ *C.oauth_cancel_token, cerr **C.oauth_error) C.oauth_result {
		return C.oauth_client_set_access_key(h, id, secret, keyID, keySecret, cerr)
	})
}
