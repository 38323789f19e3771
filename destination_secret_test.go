package herald_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/heraldhq/herald"
)

func TestDestinationMasks(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nats://u:p%40ss@h:4222", "nats://u:********@h:4222"},
		{"amqp://u@h/vh", "amqp://u@h/vh"},
		{"redis://h:6379/0", "redis://h:6379/0"},
		{"nats://a:x@h1:4222,nats://b:y@h2:4222", "nats://a:********@h1:4222,nats://b:********@h2:4222"},
		{"%zz://u:secret@h", "%zz://********@h"},
	} {
		if got := herald.MaskURLPassword(c.in); got != c.want {
			t.Errorf("MaskURLPassword(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	stored := &herald.Destination{URL: "nats://a:x1@h1:4222,nats://b:y2@h2:4222", Password: "pw", CredentialsJSON: "{}", SecretAccessKey: "sk"}
	m := stored.Masked()
	if m.Password != herald.Masked || m.CredentialsJSON != herald.Masked || m.SecretAccessKey != herald.Masked || stored.Password != "pw" {
		t.Fatalf("masked %+v, stored %+v", m, stored)
	}
	m.KeepMasked(stored)
	if !reflect.DeepEqual(m, stored) {
		t.Errorf("sending the masks back: %+v, want %+v", m, stored)
	}
	in := &herald.Destination{URL: "nats://a:new@h1:4222", Password: "other"}
	in.KeepMasked(stored)
	if in.URL != "nats://a:new@h1:4222" || in.Password != "other" {
		t.Errorf("new values were replaced: %+v", in)
	}
	secrets := stored.Secrets()
	for _, want := range []string{"x1", "y2", "pw", "sk"} {
		if !slices.Contains(secrets, want) {
			t.Errorf("Secrets() = %v lacks %s", secrets, want)
		}
	}
}
