module github.com/cxoauth/cxoauth/bindings/go

go 1.22
