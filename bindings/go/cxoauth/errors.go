package cxoauth

import (
	"errors"
	"fmt"
)

// ResultCode is the library's oauth_result: 0 is success, 1-12 are stable failure codes.
type ResultCode uint32

// Result codes (the OAUTH_* constants of cxoauth.h).
const (
	CodeOK              ResultCode = 0
	CodeInvalidArgument ResultCode = 1  // NULL/invalid argument, bad header, URL on another host
	CodeConfig          ResultCode = 2  // the configuration is wrong or incomplete; the message names the key
	CodeNetwork         ResultCode = 3  // no connection, or it broke before a complete reply
	CodeTimeout         ResultCode = 4  // timeout_ms (per attempt) or deadline_ms (whole call) passed
	CodeTLS             ResultCode = 5  // TLS handshake or certificate verification failed
	CodeAuth            ResultCode = 6  // the token endpoint rejected the credentials; see Error.OAuthCode
	CodeRateLimited     ResultCode = 7  // the token endpoint kept rate limiting
	CodeServer          ResultCode = 8  // the token endpoint kept failing with 5xx
	CodeProtocol        ResultCode = 9  // a reply could not be understood (bad token JSON, body too large)
	CodeCancelled       ResultCode = 10 // aborted: context cancelled, deadline, or Close
	CodeInternal        ResultCode = 11 // a bug in the library
	CodeClosed          ResultCode = 12 // the call was made after Close (ABI 0.2: OAUTH_ERR_CLOSED)
)

var codeNames = [...]string{
	"ok", "invalid argument", "config", "network", "timeout", "tls", "auth",
	"rate limited", "server", "protocol", "cancelled", "internal", "closed",
}

// String returns a short lower-case name such as "auth" or "config".
func (c ResultCode) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code %d", uint32(c))
}

// ErrClosed is the cause (see errors.Is) of errors returned by calls made on a closed Client
// (CodeClosed) or aborted by its Close (CodeCancelled).
var ErrClosed = errors.New("cxoauth: client is closed")

// Error is a failed library call. Use errors.As(err, &e) with e *Error, or IsCode. Its
// message never contains a secret or a token.
type Error struct {
	Code          ResultCode // never CodeOK
	Message       string     // human readable, from the library
	HTTPStatus    int        // HTTP status of the reply that caused the error, or 0
	OAuthCode     string     // the token endpoint's OAuth "error" (e.g. "invalid_client"), or ""
	CorrelationID string     // ININ-Correlation-Id of the failing reply, or ""

	cause error // context.Canceled, context.DeadlineExceeded or ErrClosed when that caused it
}

func (e *Error) Error() string {
	msg := "cxoauth: " + e.Message
	if e.cause != nil && e.cause != ErrClosed {
		msg += " (" + e.cause.Error() + ")"
	}
	return msg
}

// Unwrap returns what caused a CodeCancelled error (context.Canceled,
// context.DeadlineExceeded or ErrClosed) or a CodeClosed error (ErrClosed), so errors.Is works
// on them; nil otherwise.
func (e *Error) Unwrap() error { return e.cause }

// IsCode reports whether err is (or wraps) an *Error with the given code.
func IsCode(err error, code ResultCode) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// CodeOf returns the code of the *Error in err's chain, CodeOK for nil, CodeInternal for
// errors that did not come from the library.
func CodeOf(err error) ResultCode {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
