package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/client"
)

// Tail configures `herald tail`: it follows an app's delivery attempts
// as every node of the server records them, one line each, until
// interrupted.
type Tail struct {
	DataDirFlag
	App      string `name:"app" placeholder:"APP" help:"The app (id or uid). Default: an app key's own app, or the server's only app."`
	Endpoint string `name:"endpoint" placeholder:"ep_…" help:"Only this endpoint's attempts."`
	Status   string `name:"status" enum:",pending,succeeded,failed" default:"" help:"Only attempts that left their delivery pending (to be retried), succeeded or failed (no retry left)."`
	Output   string `name:"output" short:"o" enum:"text,json" default:"text" help:"text: one readable line per attempt; json: one JSON object per line."`
}

// Run follows the stream until ctx ends (SIGINT), reconnecting after a
// dropped connection without missing an attempt; a refusal of the
// server ends it with an error.
func (c *Tail) Run(ctx context.Context, env Env) error {
	remote, stdout, stderr := env.Remote, env.Stdout, env.Stderr
	h, err := Dial(remote)
	if err != nil {
		return err
	}
	app, err := tailApp(ctx, h, c.App)
	if err != nil {
		return err
	}
	connects := 0
	p := client.FollowParams{Endpoint: c.Endpoint, Status: client.DeliveryStatus(c.Status), OnConnect: func() {
		if connects++; connects == 1 {
			fmt.Fprintf(stderr, "following the attempts of app %s on %s (Ctrl-C to stop)\n", app, remote.Server)
		} else {
			fmt.Fprintln(stderr, "herald tail: reconnected")
		}
	}}
	for a, err := range h.FollowAttempts(ctx, app, p) {
		if err != nil {
			if _, ok := errors.AsType[*client.APIError](err); ok {
				return err
			}
			fmt.Fprintf(stderr, "%v; reconnecting\n", err)
			continue
		}
		if c.Output == "json" {
			b, err := json.Marshal(struct {
				Cursor string `json:"cursor"`
				client.AttemptEvent
			}{a.Cursor, a.AttemptEvent})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\n", b)
			continue
		}
		fmt.Fprintln(stdout, TailLine(a.AttemptEvent, time.Local))
	}
	return nil
}

// tailApp is the app asked for, else the one an app key belongs to, else
// the server's only app.
func tailApp(ctx context.Context, h *client.Herald, app string) (string, error) {
	if app != "" {
		return app, nil
	}
	who, err := h.WhoamiWithResponse(ctx)
	if err != nil {
		return "", err
	}
	if who.JSON200 != nil && who.JSON200.AppID != nil {
		return *who.JSON200.AppID, nil
	}
	var apps []string
	for a, err := range h.Apps(ctx) {
		if err != nil {
			return "", err
		}
		if apps = append(apps, a.ID); len(apps) > 1 {
			return "", errors.New("the server has several apps: name one with --app")
		}
	}
	if len(apps) == 0 {
		return "", errors.New("the server has no app yet")
	}
	return apps[0], nil
}

// TailLine is the line `herald tail` prints for an attempt, its time in
// loc:
//
//	12:04:05 ← 500 lead.created evt_… → ep_… attempt 2, 34 ms · retry in 30s
func TailLine(a client.AttemptEvent, loc *time.Location) string {
	var b strings.Builder
	b.WriteString(a.CreatedAt.In(loc).Format(time.TimeOnly))
	switch {
	case a.StatusCode != nil:
		fmt.Fprintf(&b, " ← %d", *a.StatusCode)
	case a.ErrorKind != "":
		fmt.Fprintf(&b, " ✗ %s", a.ErrorKind)
	}
	fmt.Fprintf(&b, " %s %s → %s attempt %d, %.0f ms", a.EventType, a.EventID, a.EndpointID, a.Attempt, a.LatencyMs)
	if a.Trigger != "" && a.Trigger != "scheduled" {
		fmt.Fprintf(&b, " (%s)", a.Trigger)
	}
	switch a.DeliveryStatus {
	case client.DeliveryStatusSucceeded:
		b.WriteString(" · delivered")
	case client.DeliveryStatusFailed:
		b.WriteString(" · failed, no retry left")
	case client.DeliveryStatusCancelled:
		b.WriteString(" · cancelled by the transformation")
	case client.DeliveryStatusPending:
		if a.NextAttemptAt != nil {
			wait := max(a.NextAttemptAt.Sub(a.CreatedAt), 0)
			fmt.Fprintf(&b, " · retry in %s", roundWait(wait))
		} else {
			b.WriteString(" · retrying")
		}
	}
	if a.StatusCode == nil && a.Error != "" {
		fmt.Fprintf(&b, " (%s)", a.Error)
	}
	return b.String()
}

// roundWait shows a wait as a person reads it: 250ms, 30s, 5m0s, 2h0m0s.
func roundWait(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}
