package cxoauth

// The Go functions the library calls back (oauth_request_done, oauth_token_done,
// oauth_log_fn). They are in a file of their own because cgo allows only declarations in the
// preamble of a file with //export; cxoauth.go passes them to the library through small C
// helpers.
//
// The completions run on the library's completion thread (cxoauth-cb), one after another:
// each only looks its channel up by the cgo.Handle given as userdata and hands the raw results
// over (a buffered send that never blocks); the waiting goroutine copies and frees them.

/*
#include <stdint.h>
#include "cxoauth.h"
*/
import "C"

import (
	"context"
	"log/slog"
	"runtime/cgo"
	"unsafe"
)

// completion is what a done callback received; ownership of the pointers passes to the
// goroutine that receives it.
type completion struct {
	rc   C.oauth_result
	resp *C.oauth_response
	tok  *C.char
	ms   C.uint64_t
	cerr *C.oauth_error
}

// deliver sends c to the channel registered under the handle in userdata and releases the
// handle: done is called exactly once per accepted call.
func deliver(userdata unsafe.Pointer, c completion) {
	h := cgo.Handle(uintptr(userdata))
	ch := h.Value().(chan completion)
	h.Delete()
	ch <- c // buffered (1) and sent to once: never blocks the completion thread
}

//export cxoauthGoRequestDone
func cxoauthGoRequestDone(userdata unsafe.Pointer, rc C.oauth_result, resp *C.oauth_response, cerr *C.oauth_error) {
	deliver(userdata, completion{rc: rc, resp: resp, cerr: cerr})
}

//export cxoauthGoTokenDone
func cxoauthGoTokenDone(userdata unsafe.Pointer, rc C.oauth_result, tok *C.char, ms C.uint64_t, cerr *C.oauth_error) {
	deliver(userdata, completion{rc: rc, tok: tok, ms: ms, cerr: cerr})
}

//export cxoauthGoLog
func cxoauthGoLog(_ unsafe.Pointer, level C.uint32_t, message *C.char) {
	l := currentLogger.Load()
	if l == nil {
		return // SetLogger(nil) ran meanwhile: a line in delivery may still arrive
	}
	lvl := slogLevel(uint32(level))
	ctx := context.Background()
	if !l.Enabled(ctx, lvl) {
		return
	}
	l.LogAttrs(ctx, lvl, C.GoString(message), slog.String("logger", "cxoauth"))
}
