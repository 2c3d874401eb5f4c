package cxoauth

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// CallOption overrides one setting of the client's configuration for one call of Do or Get
// (the library's per-call options, oauth_request_ex's options_json):
//
//	resp, err := client.Do(ctx, "POST", "/api/v2/analytics/conversations/details/query", h, q,
//		cxoauth.WithDeadline(2*time.Second), cxoauth.Idempotent(true), cxoauth.PacingFailFast())
//
// A value out of the range of the configuration key of the same name is a CodeInvalidArgument
// error naming it, before anything is sent.
type CallOption func(*callOptions)

type callOptions map[string]any

// WithDeadline sets the whole call's deadline (deadline_ms), token fetch, retries and waits
// included. The ctx deadline still applies as well.
func WithDeadline(d time.Duration) CallOption {
	return func(o *callOptions) { (*o)["deadline_ms"] = d.Milliseconds() }
}

// WithAttemptTimeout sets the timeout of each attempt (timeout_ms).
func WithAttemptTimeout(d time.Duration) CallOption {
	return func(o *callOptions) { (*o)["timeout_ms"] = d.Milliseconds() }
}

// WithMaxRetries sets the retries after 429 / 502-504 / connection failures (max_retries).
func WithMaxRetries(n int) CallOption {
	return func(o *callOptions) { (*o)["max_retries"] = n }
}

// Idempotent overrides the method's default: whether 502/503/504 and failures after sending
// are retried (true for a POST the API treats as idempotent, false to never resend a GET).
func Idempotent(yes bool) CallOption {
	return func(o *callOptions) { (*o)["idempotent"] = yes }
}

// ResendAfter401 set to false returns a 401 as the response, without dropping the token or
// requesting a new one (default true: one new token and one resend).
func ResendAfter401(yes bool) CallOption {
	return func(o *callOptions) { (*o)["resend_after_401"] = yes }
}

// PacingFailFast makes a call that pacing to the API's rate-limit headers would hold back end
// at once, unsent, with the client-made 429 (Retry-After, X-Cxoauth-Paced: 1) instead of
// waiting for its slot.
func PacingFailFast() CallOption {
	return func(o *callOptions) { (*o)["pacing"] = "fail_fast" }
}

// optionsJSON is the options as options_json (nil: none), checked against the ranges of the
// configuration keys of the same names (the async call reports a bad option by its code only).
func optionsJSON(opts []CallOption) ([]byte, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	o := callOptions{}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if len(o) == 0 {
		return nil, nil
	}
	for key, v := range o {
		n, isInt := v.(int64)
		if i, ok := v.(int); ok {
			n, isInt = int64(i), true
		}
		if !isInt {
			continue
		}
		if lo, hi, ok := schemaRange(key); ok && (n < lo || n > hi) {
			return nil, &Error{Code: CodeInvalidArgument,
				Message: fmt.Sprintf("invalid argument: option %q must be a whole number from %d to %d (got %d)", key, lo, hi, n)}
		}
	}
	return json.Marshal(o)
}

var (
	rangesOnce sync.Once
	ranges     map[string][2]int64
)

// schemaRange is the minimum and maximum of an integer configuration key, from the library's
// own schema (oauth_config_schema).
func schemaRange(key string) (lo, hi int64, ok bool) {
	rangesOnce.Do(func() {
		var doc struct {
			Keys []struct {
				Name    string   `json:"name"`
				Type    string   `json:"type"`
				Minimum *float64 `json:"minimum"`
				Maximum *float64 `json:"maximum"`
			} `json:"keys"`
		}
		ranges = map[string][2]int64{}
		if json.Unmarshal([]byte(ConfigSchema()), &doc) != nil {
			return
		}
		for _, k := range doc.Keys {
			if k.Type == "integer" && k.Minimum != nil && k.Maximum != nil {
				ranges[k.Name] = [2]int64{int64(*k.Minimum), int64(*k.Maximum)}
			}
		}
	})
	r, ok := ranges[key]
	return r[0], r[1], ok
}
