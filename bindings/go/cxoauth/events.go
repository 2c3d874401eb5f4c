package cxoauth

// Token events (oauth_set_event_callback): the Go function the library calls back. In a file
// of its own because cgo allows only declarations in the preamble of a file with //export;
// events_set.go registers it through a small C trampoline.

/*
#include <stdint.h>
#include "cxoauth.h"
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"
)

// EventKind is an OAUTH_EVENT_* number (stable; new kinds are appended).
type EventKind uint32

// The event kinds of oauth_set_event_callback.
const (
	EventTokenFetched       EventKind = 1 // a token was fetched; Expires is its expiry
	EventTokenRefreshFailed EventKind = 2 // a fetch or refresh failed; Result and HTTPStatus say why
	EventTokenInvalidated   EventKind = 3 // the token was dropped (a 401 from the API, or InvalidateToken)
	EventRateLimited        EventKind = 4 // a 429 from the API or the token endpoint (once per episode)
	EventRateLimitCleared   EventKind = 5 // the first reply that is not a 429 after that
	EventSharedCacheDown    EventKind = 6 // the shared token cache failed (the process cache is used alone)
	EventSharedCacheUp      EventKind = 7 // it answered again
)

var eventKindNames = map[EventKind]string{
	EventTokenFetched:       "TOKEN_FETCHED",
	EventTokenRefreshFailed: "TOKEN_REFRESH_FAILED",
	EventTokenInvalidated:   "TOKEN_INVALIDATED",
	EventRateLimited:        "RATE_LIMITED",
	EventRateLimitCleared:   "RATE_LIMIT_CLEARED",
	EventSharedCacheDown:    "SHARED_CACHE_DOWN",
	EventSharedCacheUp:      "SHARED_CACHE_UP",
}

func (k EventKind) String() string {
	if n, ok := eventKindNames[k]; ok {
		return n
	}
	return "EVENT_" + itoa(uint64(k))
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; v > 0; v /= 10 {
		i--
		b[i] = byte('0' + v%10)
	}
	return string(b[i:])
}

// Event is one token event. Message never holds a secret or a token.
type Event struct {
	Kind       EventKind
	Result     ResultCode // the code of what failed, else CodeOK
	HTTPStatus int        // 0 when none
	Time       time.Time
	Expires    time.Time // the token's expiry for EventTokenFetched, else zero
	Message    string
}

// eventSink hands a client's events to its function on one goroutine at a time, in the order
// the library delivered them; the library's completion thread only appends to the queue.
type eventSink struct {
	fn      func(Event)
	mu      sync.Mutex
	queue   []Event
	running bool
}

func (s *eventSink) push(e Event) {
	s.mu.Lock()
	s.queue = append(s.queue, e)
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.drain()
	}
}

func (s *eventSink) drain() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		e := s.queue[0]
		s.queue[0] = Event{}
		s.queue = s.queue[1:]
		s.mu.Unlock()
		s.fn(e)
	}
}

// The sinks by id (the userdata given to the library). An id no longer registered (OnEvent
// replaced it, or the client was closed) drops the event: safe whatever the timing.
var (
	sinksMu sync.RWMutex
	sinks   = map[uintptr]*eventSink{}
	sinkSeq uintptr
)

func msTimeOrZero(ms uint64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms))
}

//export cxoauthGoEvent
func cxoauthGoEvent(userdata unsafe.Pointer, ev *C.oauth_event) {
	sinksMu.RLock()
	s := sinks[uintptr(userdata)]
	sinksMu.RUnlock()
	if s == nil || ev == nil {
		return
	}
	e := Event{
		Kind:       EventKind(ev.kind),
		Result:     ResultCode(ev.result),
		HTTPStatus: int(ev.http_status),
		Time:       msTimeOrZero(uint64(ev.time_unix_ms)),
		Expires:    msTimeOrZero(uint64(ev.expires_unix_ms)),
	}
	if ev.message != nil {
		e.Message = C.GoString(ev.message) // valid during the call only: copied now
	}
	s.push(e)
}
