// Package cli holds what the herald command needs beyond the flags' own
// definitions (internal/config): its local developer tools (verify,
// receive), the parts of the flag parser Herald changes (durations in
// days, a configuration file below the environment, one-line errors), so
// that cmd/herald stays a list of commands.
package cli

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/duration"
)

// Options are the flag parser's options every herald command shares:
// durations take days (30d) wherever the binary takes a duration, from a
// flag, a variable or the configuration file alike.
func Options() []kong.Option {
	return []kong.Option{
		kong.TypeMapper(reflect.TypeFor[time.Duration](), kong.MapperFunc(decodeDuration)),
	}
}

func decodeDuration(ctx *kong.DecodeContext, target reflect.Value) error {
	t, err := ctx.Scan.PopValue("duration")
	if err != nil {
		return err
	}
	s, ok := t.Value.(string)
	if !ok {
		s = fmt.Sprint(t.Value)
	}
	d, err := duration.Parse(s)
	if err != nil {
		return err
	}
	target.SetInt(int64(d))
	return nil
}

// LoadConfigFile reads the file named by the command's --config flag (or
// HERALD_CONFIG), if any, and gives its values to the flag parser below
// the command line and the environment: a setting comes from its flag,
// else its HERALD_* variable, else the file, else its default. Call it
// from the command's BeforeResolve hook, which kong runs once the command
// line and the variables are read and before the values are resolved.
func LoadConfigFile(ctx *kong.Context) error {
	var path string
	for _, f := range ctx.Flags() {
		if f.Name == "config" {
			path, _ = ctx.FlagValue(f).(string)
		}
	}
	if path == "" {
		return nil
	}
	values, err := config.ReadFile(path)
	if err != nil {
		return err
	}
	ctx.AddResolver(kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
		for _, env := range flag.Envs {
			if _, set := os.LookupEnv(env); set {
				return nil, nil // the variable, read already, wins
			}
		}
		if v, ok := values[flag.Name]; ok {
			return v, nil
		}
		return nil, nil
	}))
	return nil
}

// ShortError turns a command-line error into the one line herald prints:
// what is wrong, and where the help is ("herald: unknown flag --foo; see
// herald help serve"). The whole usage is not printed: it would push the
// error off the screen.
func ShortError(err error) string {
	msg := err.Error()
	var cmd string
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		cmd = pe.Context.Command()
		// Only the words of commands: kong writes arguments as <name>.
		var words []string
		for _, w := range strings.Fields(cmd) {
			if !strings.HasPrefix(w, "<") {
				words = append(words, w)
			}
		}
		cmd = strings.Join(words, " ")
	}
	if cmd != "" {
		// A command's own Validate errors come prefixed with its name.
		msg = strings.TrimPrefix(msg, cmd+": ")
	} else if arg, ok := strings.CutPrefix(msg, "unexpected argument "); ok {
		msg = "unknown command " + arg
	}
	// Kong's suggestion ('unknown flag --retension, did you mean
	// "--retention"?') in the shape of the rest of the line.
	if i := strings.Index(msg, `, did you mean "`); i >= 0 && strings.HasSuffix(msg, `"?`) {
		msg = msg[:i] + " (did you mean " + msg[i+len(`, did you mean "`):len(msg)-2] + "?)"
	}
	hint := "herald help"
	if cmd != "" {
		hint += " " + cmd
	}
	return "herald: " + msg + "; see " + hint
}

// UsageLine is ShortError for a usage error that a command found as it
// ran (a *UsageError): the same line, with command (kong's Command(),
// arguments written as <name>) for the help's hint.
func UsageLine(err error, command string) string {
	var words []string
	for _, w := range strings.Fields(command) {
		if !strings.HasPrefix(w, "<") {
			words = append(words, w)
		}
	}
	hint := strings.Join(append([]string{"herald help"}, words...), " ")
	return "herald: " + err.Error() + "; see " + hint
}
