package bench

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/heraldhq/herald/internal/config"
)

// The ceiling keeps as many publishes in flight as Herald may have to one
// endpoint by default: a change of serve's default must change both.
func TestNATSPublishersMatchServe(t *testing.T) {
	f, ok := reflect.TypeOf(config.Serve{}).FieldByName("MaxInFlight")
	if !ok {
		t.Fatal("config.Serve has no MaxInFlight")
	}
	if def, _ := strconv.Atoi(f.Tag.Get("default")); def != natsPublishers {
		t.Fatalf("serve's default --max-in-flight is %q, the nats ceiling keeps %d in flight", f.Tag.Get("default"), natsPublishers)
	}
}

func TestNATSAddr(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":       "127.0.0.1:4222",
		"nats://u:p@localhost":        "localhost:4222",
		"tls://[::1]:4443":            "[::1]:4443",
		"http://127.0.0.1:4222":       "",
		"nats://":                     "",
		"127.0.0.1:4222":              "",
		"nats://a:4222,nats://b:4222": "",
	} {
		got, err := natsAddr(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("natsAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
