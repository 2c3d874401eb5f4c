//go:build !cxoauth_pkgconfig

package cxoauth

// Default build (what `go get` + `go build` use): the header is the copy shipped in this
// package directory (cxoauth.h, identical to the repository's include/cxoauth.h: written by
// scripts/gen-header.sh, checked by the header drift check), and the library is linked as
// -lcxoauth from the linker's default path (/usr/lib, /usr/local/lib, ...). For a library
// under another prefix add its directories through the cgo environment:
//
//	CGO_LDFLAGS="-L$PREFIX/lib -Wl,-rpath,$PREFIX/lib" go build ./...
//
// (CGO_CFLAGS="-I$PREFIX/include" is only needed to compile against another header than the
// shipped one.) Build with -tags cxoauth_pkgconfig to take both from pkg-config instead.

/*
#cgo CFLAGS: -I${SRCDIR}
#cgo LDFLAGS: -lcxoauth
*/
import "C"
