package cxoauth

/*
#include <stdint.h>
#include "cxoauth.h"

extern void cxoauthGoEvent(void*, oauth_event*);

static void cxoauth_event_trampoline(void* userdata, const oauth_event* event) {
	cxoauthGoEvent(userdata, (oauth_event*)event);
}

static oauth_result cxoauth_set_events_go(oauth_client* c, uintptr_t id) {
	return oauth_set_event_callback(c, id ? cxoauth_event_trampoline : NULL, (void*)id);
}
*/
import "C"

import (
	"context"
	"sync"
	"unsafe"
)

// The sink id of each client with events on, by its native handle's address (not *Client:
// the map must not keep a forgotten client from its finalizer).
var clientSinks sync.Map

// OnEvent sets the function that receives the client's token events (fetched, refresh
// failed, invalidated, rate limited / cleared, shared cache down / up), replacing any earlier
// one; nil turns events off. fn runs on a goroutine of the binding, one event at a time, in
// the order they happened (the library's completion thread only queues them, so a slow fn
// holds nothing back). When OnEvent returns, the earlier function receives no further event.
// After Close it returns a CodeClosed error.
func (c *Client) OnEvent(fn func(Event)) error {
	var id uintptr
	if fn != nil {
		sinksMu.Lock()
		sinkSeq++
		id = sinkSeq
		sinks[id] = &eventSink{fn: fn}
		sinksMu.Unlock()
	}
	var key uintptr
	err := c.call(context.Background(), func(h *C.oauth_client, _ *C.oauth_cancel_token, _ **C.oauth_error) C.oauth_result {
		key = uintptr(unsafe.Pointer(h))
		return C.cxoauth_set_events_go(h, C.uintptr_t(id))
	})
	if err != nil {
		dropSink(id)
		return err
	}
	var old any
	if id != 0 {
		old, _ = clientSinks.Swap(key, id)
	} else {
		old, _ = clientSinks.LoadAndDelete(key)
	}
	if old != nil {
		dropSink(old.(uintptr))
	}
	return nil
}

// dropEvents forgets the event function of the native client h (Close, before h is freed:
// the library calls it no more).
func dropEvents(h *C.oauth_client) {
	if old, ok := clientSinks.LoadAndDelete(uintptr(unsafe.Pointer(h))); ok {
		dropSink(old.(uintptr))
	}
}

func dropSink(id uintptr) {
	if id == 0 {
		return
	}
	sinksMu.Lock()
	delete(sinks, id)
	sinksMu.Unlock()
}
