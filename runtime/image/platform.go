package image

import goruntime "runtime"

func goarch() string { return goruntime.GOARCH }
