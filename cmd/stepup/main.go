// Command stepup is the Stepup OpenID provider. See "stepup help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stepup-oidc/stepup/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()})
	stop()
	os.Exit(code)
}
