module lab

go 1.26.0

require (
	github.com/chzyer/readline v1.5.1
	github.com/docker/go-units v0.5.0
	github.com/opencontainers/go-digest v1.0.0
	github.com/opencontainers/image-spec v1.1.1
	github.com/spf13/pflag v1.0.10
	github.com/yuin/gopher-lua v1.1.2
	golang.org/x/sys v0.50.0
)
