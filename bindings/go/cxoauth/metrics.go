package cxoauth

/*
#include <stdlib.h>
#include "cxoauth.h"
*/
import "C"

import (
	"context"
	"unsafe"
)

// Metrics returns the client's metrics (oauth_client_metrics): format "prometheus" (text
// exposition 0.0.4) or "json" (the same samples as {"families": [...]}). It makes no network
// request. The promcollector module exposes them to a client_golang registry.
func (c *Client) Metrics(format string) (string, error) {
	if err := checkNoNULStrings("the format", format); err != nil {
		return "", err
	}
	cformat := C.CString(format)
	defer C.free(unsafe.Pointer(cformat))
	var out *C.char
	err := c.call(context.Background(), func(h *C.oauth_client, _ *C.oauth_cancel_token, cerr **C.oauth_error) C.oauth_result {
		return C.oauth_client_metrics(h, cformat, &out, cerr)
	})
	if err != nil {
		return "", err
	}
	s := C.GoString(out)
	C.oauth_string_free(out)
	return s, nil
}
