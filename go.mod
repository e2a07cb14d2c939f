module github.com/gowsgi/gowsgi

go 1.26

require (
	github.com/go-python/cpy3 v0.2.0 // indirect
	github.com/stretchr/testify v1.10.0 // indirect
)
