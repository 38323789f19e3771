// Command herald is the Herald webhook delivery service.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/bench"
	"github.com/heraldhq/herald/internal/cli"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/secrets"
)

type commands struct {
	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit."`
	Remote      config.Remote    `embed:""`

	Serve      serveCmd       `cmd:"" help:"Run the HTTP API and the delivery workers."`
	Bench      bench.Config   `cmd:"" help:"Measure Herald (as a child process) against this machine's own HTTP ceiling; see BENCHMARKS.md."`
	Reencrypt  reencryptCmd   `cmd:"" help:"Rewrite every stored secret under the first encryption key (after a key rotation)."`
	Keygen     struct{}       `cmd:"" help:"Print a new encryption key for HERALD_ENCRYPTION_KEY."`
	Verify     cli.Verify     `cmd:"" help:"Check a webhook request's signature offline, from the raw request on stdin (or FILE): prints a verdict, exits 0 when valid, 1 when not, 2 when the input cannot be read."`
	Receive    cli.Receive    `cmd:"" help:"Run a test receiver on 127.0.0.1 that prints each request it gets and whether its signature verifies."`
	Listen     cli.Listen     `cmd:"" group:"server" help:"Forward an app's deliveries to a local URL through a temporary pull endpoint, removed on exit; prints a line per delivery."`
	Trigger    cli.Trigger    `cmd:"" group:"server" help:"Send a real event of a type, with its catalog sample (or --payload); prints its id and how many deliveries it made."`
	Resend     cli.Resend     `cmd:"" group:"server" help:"Send a delivery again now, and print the answer."`
	Recover    cli.Recover    `cmd:"" group:"server" help:"Requeue an endpoint's failed deliveries of a recent period, following the job to its end."`
	Apps       cli.Apps       `cmd:"" group:"server" help:"List, show, create, change or delete apps."`
	EventTypes cli.EventTypes `cmd:"" name:"event-types" group:"server" help:"List, show, create, change or delete the catalog's event types."`
	Endpoints  cli.Endpoints  `cmd:"" group:"server" help:"List, show, create, change or delete an app's endpoints."`
	Tail       cli.Tail       `cmd:"" group:"server" help:"Follow an app's delivery attempts live, one line each, until interrupted."`
	Version    struct{}       `cmd:"" help:"Print the version."`
	Help       struct {
		Command []string `arg:"" optional:"" help:"The command."`
	} `cmd:"" help:"Show the help of herald or of one command."`
}

// serveCmd takes the flags of config.Serve. Its Validate runs as the flags
// are parsed, so that a value only app can check (a retry schedule, a
// CIDR list) is answered like any bad flag: one error line, exit code 2.
type serveCmd struct {
	config.Serve
}

// BeforeResolve is called by kong once the command line and the
// environment are read: the configuration file fills what they left.
func (s *serveCmd) BeforeResolve(ctx *kong.Context) error { return cli.LoadConfigFile(ctx) }

// Validate is called by kong after the flags are read.
func (s *serveCmd) Validate() error { return app.Check(&s.Serve) }

// reencryptCmd takes the flags of config.Reencrypt, and the values of
// serve's configuration file for them.
type reencryptCmd struct {
	config.Reencrypt
}

// BeforeResolve: see serveCmd.
func (r *reencryptCmd) BeforeResolve(ctx *kong.Context) error { return cli.LoadConfigFile(ctx) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app.OwnsProcess = true
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Main runs the herald command with args (without the program name) until
// it is done or ctx is cancelled, and returns the exit code. It never
// exits the process, so tests run it in-process. Commands that read input
// read the process's stdin; MainIO takes another.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return MainIO(ctx, args, os.Stdin, stdout, stderr)
}

// Exit codes beyond a command's own: a bad command line gets
// exitUsage, a failure of the command exitFailure.
const (
	exitFailure = 1
	exitUsage   = 2
)

// MainIO is Main with stdin given.
func MainIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var c commands
	// Kong calls exit after --help and --version. It must not end the
	// process here: the first code is kept and returned. (After --help,
	// parsing goes on and fills c; nothing is run.)
	exitCode := -1
	noArgs := len(args) == 0
	if noArgs {
		args = []string{"--help"}
	}
	opts := append(cli.Options(),
		kong.Name("herald"),
		kong.Description("Herald: durable webhook delivery."),
		kong.Vars(app.Vars()),
		kong.Vars{"version": "herald " + herald.Version},
		kong.Writers(stdout, stderr),
		kong.ExplicitGroups([]kong.Group{{Key: "server", Title: "Commands that talk to a server (--server, --token):"}}),
		kong.Exit(func(code int) {
			if exitCode < 0 {
				exitCode = code
			}
		}),
	)
	parser, err := kong.New(&c, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "herald:", err)
		return exitFailure
	}
	k, err := parser.Parse(args)
	switch {
	case noArgs:
		return exitUsage
	case exitCode >= 0:
		return exitCode
	case err != nil:
		fmt.Fprintln(stderr, cli.ShortError(err))
		return exitUsage
	}
	// A command that talks to a server reads the token from the data dir
	// it names (cli.DataDirFlag), on it or on its group.
	for _, f := range k.Flags() {
		if f.Name == "data-dir" {
			if dir, ok := k.FlagValue(f).(string); ok {
				c.Remote.DataDir = dir
			}
		}
	}
	switch k.Command() {
	case "serve":
		err = app.Serve(ctx, &c.Serve.Serve, stdout, stderr)
	case "bench":
		err = bench.Run(ctx, &c.Bench, stdout, stderr)
	case "reencrypt":
		err = app.Reencrypt(ctx, &c.Reencrypt.Reencrypt, stdout)
	case "keygen":
		var key string
		if key, err = secrets.GenerateKey(); err == nil {
			fmt.Fprintln(stdout, key)
		}
	case "verify", "verify <file>":
		return c.Verify.Run(stdin, stdout, stderr)
	case "receive":
		err = c.Receive.Run(ctx, stdout)
	case "version":
		fmt.Fprintln(stdout, "herald", herald.Version)
	case "help", "help <command>":
		return MainIO(ctx, append(c.Help.Command, "--help"), stdin, stdout, stderr)
	default:
		// The commands that talk to a server run themselves.
		rc, ok := k.Selected().Target.Addr().Interface().(cli.RemoteCommand)
		if !ok {
			err = fmt.Errorf("command %q has nothing to run", k.Command())
			break
		}
		err = rc.Run(ctx, cli.Env{Remote: c.Remote, Stdout: stdout, Stderr: stderr})
	}
	if _, ok := errors.AsType[*cli.UsageError](err); ok {
		fmt.Fprintln(stderr, cli.UsageLine(err, k.Command()))
		return exitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, cli.ErrorLine(err))
		return exitFailure
	}
	return 0
}
