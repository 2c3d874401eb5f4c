//go:build cxoauth_pkgconfig

package cxoauth

// Build with -tags cxoauth_pkgconfig: compiler and linker flags from the installed
// cxoauth.pc (`#cgo pkg-config: cxoauth`; PKG_CONFIG_PATH selects a non-default prefix): the
// installed header, matching the installed library, is used instead of the shipped copy.

/*
#cgo pkg-config: cxoauth
*/
import "C"
