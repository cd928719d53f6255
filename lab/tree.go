package lab

import (
	"context"
	"time"

	"lab/lab/table"
)

func init() {
	register(map[string]*command{"tree": {
		usage: "",
		short: "Show images, the containers made from them and the images committed from those",
		run: func(ctx context.Context, a *app, args []string) error {
			if err := needArgs(a, args, 0, 0); err != nil {
				return err
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			roots, err := e.Tree()
			if err != nil {
				return err
			}
			return table.Tree(a.stdout, roots, time.Now())
		},
	}})
}
