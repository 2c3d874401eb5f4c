module github.com/cxoauth/cxoauth/examples/go

go 1.22

require github.com/cxoauth/cxoauth/bindings/go v0.0.0

// Inside the repository the binding comes from the working tree; a project of your own just
// `go get github.com/cxoauth/cxoauth/bindings/go/cxoauth@latest` (tags bindings/go/vX.Y.Z).
// bindings/go/run-tests.sh builds a copy of this module outside the repository, with this
// directive pointing at a copy of the binding module.
replace github.com/cxoauth/cxoauth/bindings/go => ../../bindings/go
