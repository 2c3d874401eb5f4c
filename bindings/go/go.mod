module github.com/cxoauth/cxoauth/bindings/go

go 1.22

// v0.26.0 is the newest golang.org/x/oauth2 that still builds with Go 1.22 (v0.27.0 needs
// 1.23); a project requiring a newer one gets it (minimal version selection). Only the
// oauth2 subpackage imports it.
require golang.org/x/oauth2 v0.26.0
