//go:build !cxoauth_pkgconfig

package cxoauth

// Default build: the header from the repository's include/ directory, -lcxoauth from the
// linker path (CGO_LDFLAGS). Build with -tags cxoauth_pkgconfig to use pkg-config instead.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -lcxoauth
*/
import "C"
