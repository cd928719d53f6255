//go:build tools

package main
import (
_ "golang.org/x/sys/unix"
_ "github.com/opencontainers/go-digest"
_ "github.com/opencontainers/image-spec/specs-go/v1"
_ "github.com/yuin/gopher-lua"
_ "github.com/chzyer/readline"
_ "github.com/spf13/pflag"
_ "github.com/docker/go-units"
)

