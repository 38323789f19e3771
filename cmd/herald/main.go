// Command herald is the Herald webhook delivery service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/bench"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/secrets"
)

type cli struct {
	Serve     serveCmd         `cmd:"" help:"Run the HTTP API and the delivery workers."`
	Bench     bench.Config     `cmd:"" help:"Measure Herald (as a child process) against this machine's own HTTP ceiling; see BENCHMARKS.md."`
	Reencrypt config.Reencrypt `cmd:"" help:"Rewrite every stored secret under the first encryption key (after a key rotation)."`
	Keygen    struct{}         `cmd:"" help:"Print a new encryption key for HERALD_ENCRYPTION_KEY."`
	Version   struct{}         `cmd:"" help:"Print the version."`
}

// serveCmd takes the flags of config.Serve. Its Validate runs as the flags
// are parsed, so that a value only app can check (a retry schedule, a
// CIDR list) is answered like any bad flag: usage, one error line, exit
// code 80.
type serveCmd struct {
	config.Serve
}

// Validate is called by kong after the flags are read.
func (s *serveCmd) Validate() error { return app.Check(&s.Serve) }

func main() {
	var c cli
	k := kong.Parse(&c,
		kong.Name("herald"),
		kong.Description("Herald: durable webhook delivery."),
		kong.UsageOnError(),
		kong.Vars(app.Vars()),
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch k.Command() {
	case "serve":
		err = app.Serve(ctx, &c.Serve.Serve, os.Stdout, os.Stderr)
	case "bench":
		err = bench.Run(ctx, &c.Bench, os.Stdout, os.Stderr)
	case "reencrypt":
		err = app.Reencrypt(ctx, &c.Reencrypt, os.Stdout)
	case "keygen":
		var k string
		if k, err = secrets.GenerateKey(); err == nil {
			fmt.Println(k)
		}
	case "version":
		fmt.Println("herald", herald.Version)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(1)
	}
}
