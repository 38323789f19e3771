// Command herald is the Herald webhook delivery service.
package main

import (
	"context"
	"fmt"
	"io"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app.OwnsProcess = true
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Main runs the herald command with args (without the program name) until
// it is done or ctx is cancelled, and returns the exit code. It never
// exits the process, so tests run it in-process.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c cli
	// Kong calls exit after --help and on a bad command line. It must not
	// end the process here: the first code is kept and returned. (After
	// --help, parsing goes on and fills c; nothing is run.)
	exitCode := -1
	parser, err := kong.New(&c,
		kong.Name("herald"),
		kong.Description("Herald: durable webhook delivery."),
		kong.UsageOnError(),
		kong.Vars(app.Vars()),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) {
			if exitCode < 0 {
				exitCode = code
			}
		}),
	)
	if err != nil {
		fmt.Fprintln(stderr, "herald:", err)
		return 1
	}
	k, err := parser.Parse(args)
	if exitCode < 0 && err != nil {
		parser.FatalIfErrorf(err)
	}
	if exitCode >= 0 {
		return exitCode
	}
	switch k.Command() {
	case "serve":
		err = app.Serve(ctx, &c.Serve.Serve, stdout, stderr)
	case "bench":
		err = bench.Run(ctx, &c.Bench, stdout, stderr)
	case "reencrypt":
		err = app.Reencrypt(ctx, &c.Reencrypt, stdout)
	case "keygen":
		var key string
		if key, err = secrets.GenerateKey(); err == nil {
			fmt.Fprintln(stdout, key)
		}
	case "version":
		fmt.Fprintln(stdout, "herald", herald.Version)
	}
	if err != nil {
		fmt.Fprintln(stderr, "herald:", err)
		return 1
	}
	return 0
}
