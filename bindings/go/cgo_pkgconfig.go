//go:build cxoauth_pkgconfig

package cxoauth

// Build with -tags cxoauth_pkgconfig: compiler and linker flags from the installed
// cxoauth.pc (PKG_CONFIG_PATH selects a non-default prefix).

/*
#cgo pkg-config: cxoauth
*/
import "C"
