module github.com/cxoauth/cxoauth/examples/go

go 1.22

require github.com/cxoauth/cxoauth/bindings/go v0.0.0

replace github.com/cxoauth/cxoauth/bindings/go => ../../bindings/go
