package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/config"
)

// Env is what a command that talks to a server runs with: the server and
// token (its client is dialled from them only when the command runs, so
// that a usage error never needs a token) and where to write.
type Env struct {
	Remote config.Remote
	Stdout io.Writer
	Stderr io.Writer
}

// RemoteCommand is a command that talks to a server (listen, trigger,
// apps list, ...). cmd/herald runs whichever is selected, so that adding
// one does not add a case there.
type RemoteCommand interface {
	Run(ctx context.Context, env Env) error
}

// UsageError is an error of the command line that only running the
// command finds (two apps and no --app, a --payload that is not JSON):
// herald answers it like a bad flag, exit code 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ErrorLine is the one line herald prints for err: "herald: " and what
// went wrong. Answers of the server already read "herald: 404 not_found:
// …" (client.APIError), and are not prefixed twice.
func ErrorLine(err error) string {
	msg := err.Error()
	if ue, ok := errors.AsType[*url.Error](err); ok {
		// The client's own: the request never got an answer.
		msg = fmt.Sprintf("cannot reach the server (%s %s): %v", ue.Op, ue.URL, ue.Err)
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	if strings.HasPrefix(msg, "herald: ") {
		return msg
	}
	return "herald: " + msg
}

// AppFlag names the app a command works on.
type AppFlag struct {
	App string `name:"app" env:"HERALD_APP" placeholder:"APP" help:"The app (its id or uid). Default: the only app on the server."`
}

// dial returns a client of the server and the app the command is about.
func (f AppFlag) dial(ctx context.Context, env Env) (*client.Herald, string, error) {
	h, err := Dial(env.Remote)
	if err != nil {
		return nil, "", err
	}
	app, err := f.resolve(ctx, h)
	return h, app, err
}

// resolve returns the app to work on: --app, else the server's only app.
// Guessing among several would send events to the wrong customer.
func (f AppFlag) resolve(ctx context.Context, h *client.Herald) (string, error) {
	if f.App != "" {
		return f.App, nil
	}
	limit := 2
	res, err := h.ListAppsWithResponse(ctx, &client.ListAppsParams{Limit: &limit})
	if err != nil {
		return "", err
	}
	if res.JSON200 == nil {
		return "", errors.New("listing apps: the answer has no body of the documented shape")
	}
	switch apps := res.JSON200.Data; len(apps) {
	case 0:
		return "", errors.New("the server has no app yet: create one with herald apps create --name NAME --uid UID")
	case 1:
		if apps[0].UID != nil && *apps[0].UID != "" {
			return *apps[0].UID, nil
		}
		return apps[0].ID, nil
	default:
		return "", usagef("the server has several apps: say which with --app (herald apps list shows them)")
	}
}

// jsonArg reads a JSON value given as text or as @file (@- is stdin),
// for --payload and --data; flag names the flag in errors.
func jsonArg(flag, v string) (json.RawMessage, error) {
	raw := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if name == "-" {
			raw, err = io.ReadAll(os.Stdin)
		} else {
			raw, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, usagef("%s: %v", flag, err)
		}
	}
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) {
		return nil, usagef("%s is not valid JSON (give the JSON itself, or @file.json)", flag)
	}
	return raw, nil
}

// jsonObject reads --data: a JSON object, the base of a request body
// that the command's own flags then set fields of.
func jsonObject(flag, v string) (map[string]any, error) {
	body := map[string]any{}
	if v == "" {
		return body, nil
	}
	raw, err := jsonArg(flag, v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&body); err != nil || body == nil {
		return nil, usagef("%s must be a JSON object", flag)
	}
	return body, nil
}

// bodyOf encodes a request body for the client's WithBody calls.
func bodyOf(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// jsonContent is the content type of every request body the commands send.
const jsonContent = "application/json"
