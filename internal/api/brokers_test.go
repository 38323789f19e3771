package api_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
	"github.com/heraldhq/herald/verify"
)

// natsAddr is the NATS server (with JetStream) the broker tests publish
// to. Outside CI a test skips without it; in CI (HERALD_CI) it fails.
const natsAddr = "127.0.0.1:4222"

func needNATS(t *testing.T) {
	t.Helper()
	brokertest.NeedService(t, "NATS", natsAddr)
}

// suffix is a random name part, so that tests share no subject or stream.
func suffix(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// A broker endpoint is validated when saved: its destination is required
// and read strictly, the HTTP request's settings are refused on it, the
// kind's own check names the field, its addresses go through the
// destination policy, and its kind never changes.
func TestBrokerEndpointValidation(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) { c.AllowPrivateDestinations = false }})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	base := "/v1/apps/acme/endpoints"
	dest := map[string]any{"url": "nats://nats.example.com:4222", "subject": "leads.{{event.type}}"}
	nats := func(extra map[string]any) map[string]any {
		b := map[string]any{"kind": "nats", "destination": dest}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	var ep struct {
		ID, Kind, URL string
		Destination   map[string]any
	}
	s.MustDo("POST", base, nats(nil), &ep, 201)
	if ep.Kind != "nats" || ep.URL != "" || ep.Destination["subject"] != "leads.{{event.type}}" {
		t.Fatalf("created %+v", ep)
	}
	var push struct{ Kind string }
	s.MustDo("POST", base, map[string]any{"kind": "http", "url": "https://example.com/hook"}, &push, 201)
	if push.Kind != "push" {
		t.Errorf("kind http is stored as %q, want push", push.Kind)
	}

	for _, c := range []struct {
		name, method, path string
		body               map[string]any
		field, want        string
	}{
		{"no destination", "POST", base, map[string]any{"kind": "nats"}, "destination", "required"},
		{"url", "POST", base, nats(map[string]any{"url": "https://example.com/x"}), "url", "destination"},
		{"method", "POST", base, nats(map[string]any{"method": "PUT"}), "method", "no method"},
		{"preset", "POST", base, nats(map[string]any{"preset": "slack", "preset_options": map[string]string{"webhook_url": "https://hooks.slack.com/services/x"}}), "preset", "no preset"},
		{"auth", "POST", base, nats(map[string]any{"auth": map[string]string{"type": "bearer", "token": "t"}}), "auth", "no auth"},
		{"tls", "POST", base, nats(map[string]any{"tls_ca_bundle": "x"}), "tls_ca_bundle", ""},
		{"unknown destination field", "POST", base, map[string]any{"kind": "nats", "destination": map[string]any{"url": "nats://h:4222", "subjct": "x"}}, "destination.subjct", `did you mean "subject"`},
		{"destination of a push endpoint", "POST", base, map[string]any{"url": "https://example.com/x", "destination": dest}, "destination", "no destination"},
		{"kind's own check", "POST", base, map[string]any{"kind": "nats", "destination": map[string]any{"url": "nats://h:4222"}}, "destination.subject", "required"},
		{"another kind's field", "POST", base, map[string]any{"kind": "nats", "destination": map[string]any{"url": "nats://h:4222", "subject": "s", "topic": "t"}}, "destination.topic", "does not apply"},
		{"template syntax", "POST", base, map[string]any{"kind": "nats", "destination": map[string]any{"url": "nats://h:4222", "subject": "a.{{event.type"}}, "destination.subject", ""},
		{"private address", "POST", base, map[string]any{"kind": "nats", "destination": map[string]any{"url": "nats://10.0.0.7:4222", "subject": "s"}}, "destination.url", "private network address"},
		{"private address on patch", "PATCH", base + "/" + ep.ID, map[string]any{"destination": map[string]any{"url": "nats://127.0.0.1:4222", "subject": "s"}}, "destination.url", "loopback"},
		{"unknown kind", "POST", base, map[string]any{"kind": "carrier_pigeon"}, "kind", "one of"},
		{"kind change", "PATCH", base + "/" + ep.ID, map[string]any{"kind": "push"}, "kind", "cannot change"},
	} {
		var e apiError
		got := s.Invalid().Do(c.method, c.path, c.body, &e)
		if got != 422 || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%s: %d %+v, want 422 on %s saying %q", c.name, got, e.Error, c.field, c.want)
		}
	}
}

// A build without a kind refuses endpoints of it.
func TestBrokerKindNotInBuild(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{API: func(o *api.Options) { o.BrokerKinds = nil }})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	var e apiError
	body := map[string]any{"kind": "nats", "destination": map[string]any{"url": "nats://h:4222", "subject": "s"}}
	if got := s.Do("POST", "/v1/apps/acme/endpoints", body, &e); got != 422 || e.Error.Field != "kind" || !strings.Contains(e.Error.Message, "not available in this build") {
		t.Errorf("%d %+v", got, e.Error)
	}
}

// natsConsumer makes a JetStream stream holding subjects, and returns a
// channel of the messages it takes.
func natsConsumer(t *testing.T, stream, subjects string) <-chan *nats.Msg {
	t.Helper()
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subjects}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
	})
	msgs := make(chan *nats.Msg, 16)
	sub, err := nc.ChanSubscribe(subjects, msgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return msgs
}

// An event reaches a NATS endpoint end to end: published through
// JetStream with its Standard Webhooks headers, verified with the
// endpoint's secret; the history shows the PUBLISH and the stream's ack,
// the credentials masked there as everywhere, and nowhere in the
// database file.
func TestBrokerEndpointDeliversToNATS(t *testing.T) {
	t.Parallel()
	needNATS(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "other"}, nil, 201)
	sfx := suffix(t)
	stream := "HERALD_" + strings.ToUpper(sfx)
	msgs := natsConsumer(t, stream, "herald."+sfx+".>")

	// The server runs without credentials: they are carried, masked and
	// sealed, not checked by it.
	const urlPassword, password = "u-pw-7Kq2", "p-pw-9Zx4"
	secrets := []string{urlPassword, password}
	var ep struct {
		ID          string
		Destination map[string]any
	}
	body := map[string]any{"kind": "nats", "destination": map[string]any{"url": "nats://127.0.0.1:4222", "username": "herald", "password": password,
		"subject": "herald." + sfx + ".{{event.type}}", "stream": stream}, "headers": map[string]string{"X-Tenant": "acme"}}
	var raw json.RawMessage
	s.MustDo("POST", "/v1/apps/acme/endpoints", body, &raw, 201)
	_ = json.Unmarshal(raw, &ep)
	mustHide(t, "create", raw, secrets...)
	if ep.Destination["password"] != "********" {
		t.Errorf("password shown as %v", ep.Destination["password"])
	}
	// A second endpoint, its credentials in its URL.
	var ep2 struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "nats", "event_types": []string{"other"}, "destination": map[string]any{
		"url": "nats://herald:" + urlPassword + "@127.0.0.1:4222", "subject": "herald." + sfx + ".other"}}, &raw, 201)
	_ = json.Unmarshal(raw, &ep2)
	mustHide(t, "create with url credentials", raw, secrets...)
	if !strings.Contains(string(raw), "nats://herald:********@127.0.0.1:4222") {
		t.Errorf("url not masked as expected: %s", raw)
	}
	// Sending the masks back keeps the credentials.
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep2.ID, nil, &raw, 200)
	var got struct{ Destination map[string]any }
	_ = json.Unmarshal(raw, &got)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep2.ID, map[string]any{"destination": got.Destination}, &raw, 200)
	mustHide(t, "patch", raw, secrets...)

	var secret struct{ Secret string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID+"/secret", nil, &secret, 200)

	// The credentials are refused by nothing here: the server has no
	// users. Drop them so that the login is plain.
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"destination": map[string]any{"url": "nats://127.0.0.1:4222",
		"subject": "herald." + sfx + ".{{event.type}}", "stream": stream}}, nil, 200)

	evID := s.Send(map[string]any{"name": "Ann"})
	var m *nats.Msg
	select {
	case m = <-msgs:
	case <-time.After(15 * time.Second):
		t.Fatal("no message reached the stream's subjects")
	}
	if m.Subject != "herald."+sfx+".lead.created" {
		t.Errorf("subject %s", m.Subject)
	}
	h := http.Header{}
	for k, v := range m.Header {
		h[http.CanonicalHeaderKey(k)] = v
	}
	v, err := verify.New(secret.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(h, m.Data); err != nil {
		t.Errorf("signature: %v (headers %v)", err, m.Header)
	}
	if m.Header.Get("x-tenant") != "acme" || m.Header.Get("content-type") != "application/json" {
		t.Errorf("headers %v", m.Header)
	}

	d := s.WaitDelivery(evID, "succeeded", 1, 15*time.Second)
	var full struct{ Attempts []map[string]any }
	s.MustDo("GET", "/v1/apps/acme/deliveries/"+d.ID, nil, &raw, 200)
	_ = json.Unmarshal(raw, &full)
	if len(full.Attempts) == 0 {
		t.Fatalf("no attempts in %s", raw)
	}
	at, _ := json.Marshal(full.Attempts[0])
	for _, want := range []string{`"method":"PUBLISH"`, "subject herald." + sfx + ".lead.created", "stream " + stream, `"status_code":200`, "seq "} {
		if !strings.Contains(string(at), want) {
			t.Errorf("attempt lacks %s: %s", want, at)
		}
	}

	// A preview shows what would be published; a test send publishes.
	var pv struct {
		Method, URL string
		Headers     map[string]string
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/preview", map[string]any{"event_type": "lead.created", "payload": map[string]any{"name": "Bo"}}, &pv, 200)
	if pv.Method != "PUBLISH" || pv.URL != "nats://127.0.0.1:4222 subject herald."+sfx+".lead.created stream "+stream ||
		!strings.HasPrefix(pv.Headers["webhook-signature"], "v1,") || pv.Headers["x-tenant"] != "********" {
		t.Errorf("preview %+v", pv)
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/test", map[string]any{"event_type": "lead.created", "payload": map[string]any{"name": "Cy"}}, &raw, 200)
	select {
	case m = <-msgs:
		if !strings.Contains(string(m.Data), `"Cy"`) {
			t.Errorf("test send published %s", m.Data)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the test send published nothing")
	}

	s.MustDo("GET", "/v1/apps/acme/audit-log", nil, &raw, 200)
	mustHide(t, "audit log", raw, secrets...)
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &raw, 200)
	mustHide(t, "list", raw, secrets...)

	// Nothing in the database files holds a credential in clear.
	files, _ := filepath.Glob(filepath.Join(s.Dir, "herald.db*"))
	if len(files) == 0 {
		t.Fatal("no database file")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets {
			if strings.Contains(string(b), sec) {
				t.Errorf("%s holds %q in clear", filepath.Base(f), sec)
			}
		}
	}
}

// acceptAll stands for a kind's field checks, so that the API's handling
// of every credential field is tested whatever kinds this build has; it
// opens nothing.
type acceptAll struct{ name string }

func (k acceptAll) Name() string                     { return k.name }
func (acceptAll) Check(*herald.Destination) error    { return nil }
func (acceptAll) Hosts(*herald.Destination) []string { return nil }
func (acceptAll) Open(context.Context, *herald.Destination, outbound.Env) (outbound.Client, error) {
	return nil, errors.New("not for publishing")
}

// Every credential of a destination is masked in answers and the audit
// log, kept when the mask is sent back, and never in the database file in
// clear.
func TestBrokerCredentialsMaskedAndSealed(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{API: func(o *api.Options) {
		o.BrokerKinds = []outbound.Kind{acceptAll{herald.KindGCPPubSub}}
	}})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	const urlPW, pw, creds, sak = "Url-Pw-3hQ", "Pass-Wd-8rT", `{"private_key":"Cred-Js-5kP"}`, "Sec-Acc-2mN"
	secrets := []string{urlPW, pw, "Cred-Js-5kP", sak}
	dest := map[string]any{"url": "amqp://herald:" + urlPW + "@broker.example.com:5672/vh", "username": "u", "password": pw,
		"credentials_json": creds, "secret_access_key": sak, "project": "p", "topic": "t"}
	var raw json.RawMessage
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "gcp_pubsub", "destination": dest}, &raw, 201)
	mustHide(t, "create", raw, secrets...)
	var ep struct {
		ID          string
		Destination map[string]any
	}
	_ = json.Unmarshal(raw, &ep)
	want := map[string]any{"url": "amqp://herald:********@broker.example.com:5672/vh", "password": "********",
		"credentials_json": "********", "secret_access_key": "********", "username": "u"}
	for k, v := range want {
		if ep.Destination[k] != v {
			t.Errorf("destination.%s shown as %v, want %v", k, ep.Destination[k], v)
		}
	}
	// The masks sent back (with a field changed) keep every credential.
	back := ep.Destination
	back["topic"] = "t2"
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"destination": back}, &raw, 200)
	mustHide(t, "patch", raw, secrets...)
	got, err := s.Store.EndpointGet(t.Context(), s.AppID("acme"), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := got.Destination; d.URL != dest["url"] || d.Password != pw || d.CredentialsJSON != creds || d.SecretAccessKey != sak || d.Topic != "t2" {
		t.Errorf("stored after the masks came back: %+v", d)
	}
	s.MustDo("GET", "/v1/apps/acme/audit-log", nil, &raw, 200)
	mustHide(t, "audit log", raw, secrets...)
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &raw, 200)
	mustHide(t, "list", raw, secrets...)
	files, _ := filepath.Glob(filepath.Join(s.Dir, "herald.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets {
			if strings.Contains(string(b), sec) {
				t.Errorf("%s holds %q in clear", filepath.Base(f), sec)
			}
		}
	}
}

// The pool hears of an endpoint whose destination changed or that was
// deleted, so that its client closes at once; other changes keep it.
func TestBrokerEndpointGone(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var gone []string
	s := heraldtest.Start(t, heraldtest.Options{API: func(o *api.Options) {
		next := o.EndpointGone
		o.EndpointGone = func(id string) {
			mu.Lock()
			gone = append(gone, id)
			mu.Unlock()
			if next != nil {
				next(id)
			}
		}
	}})
	calls := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), gone...)
	}
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "nats", "destination": map[string]any{"url": "nats://nats.example.com:4222", "subject": "a"}}, &ep, 201)
	path := "/v1/apps/acme/endpoints/" + ep.ID
	s.MustDo("PATCH", path, map[string]any{"description": "x"}, nil, 200)
	if c := calls(); len(c) != 0 {
		t.Fatalf("a description change closed the client: %v", c)
	}
	s.MustDo("PATCH", path, map[string]any{"destination": map[string]any{"url": "nats://nats.example.com:4222", "subject": "b"}}, nil, 200)
	s.MustDo("DELETE", path, nil, nil, 204)
	if c := calls(); len(c) != 2 || c[0] != ep.ID || c[1] != ep.ID {
		t.Fatalf("EndpointGone calls %v, want the endpoint twice", c)
	}
}

// A message the broker does not acknowledge (no stream holds the subject
// yet) is error kind rejected and retried, not counted as delivered; once
// the stream exists, the retry is delivered.
func TestBrokerRejectedIsRetried(t *testing.T) {
	t.Parallel()
	needNATS(t)
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms"})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	sfx := suffix(t)
	stream := "HERALD_R_" + strings.ToUpper(sfx)
	subject := "herald.r." + sfx + ".lead"
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "nats", "destination": map[string]any{
		"url": "nats://" + natsAddr, "subject": subject, "stream": stream}}, nil, 201)
	evID := s.Send(map[string]any{"name": "Ann"})
	d := s.WaitDelivery(evID, "pending", 1, 15*time.Second)
	var full struct {
		Attempts []struct {
			ErrorKind string `json:"error_kind"`
			Response  any
		}
	}
	s.MustDo("GET", "/v1/apps/acme/deliveries/"+d.ID, nil, &full, 200)
	if len(full.Attempts) == 0 || full.Attempts[0].ErrorKind != "rejected" || full.Attempts[0].Response != nil {
		t.Fatalf("first attempt %+v, want rejected without a response", full.Attempts)
	}
	msgs := natsConsumer(t, stream, subject)
	select {
	case <-msgs:
	case <-time.After(15 * time.Second):
		var raw json.RawMessage
		s.MustDo("GET", "/v1/apps/acme/deliveries/"+d.ID, nil, &raw, 200)
		t.Fatalf("the retry never reached the stream: %s", raw)
	}
	s.WaitDelivery(evID, "succeeded", 0, 15*time.Second)
}

// A broker that is away costs retries, and the delivery goes out once it
// is back: nothing lost, the pooled client recovering on its own.
func TestBrokerDownThenBack(t *testing.T) {
	t.Parallel()
	needNATS(t)
	proxy := brokertest.NewProxy(t, natsAddr)
	proxy.Down()
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms"})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	sfx := suffix(t)
	stream := "HERALD_D_" + strings.ToUpper(sfx)
	subject := "herald.d." + sfx + ".lead"
	msgs := natsConsumer(t, stream, subject)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "nats", "destination": map[string]any{
		"url": "nats://" + proxy.Addr(), "subject": subject, "stream": stream}}, nil, 201)
	evID := s.Send(map[string]any{"name": "Ann"})
	d := s.WaitDelivery(evID, "pending", 2, 20*time.Second)
	var full struct {
		Attempts []struct {
			ErrorKind string `json:"error_kind"`
		}
	}
	s.MustDo("GET", "/v1/apps/acme/deliveries/"+d.ID, nil, &full, 200)
	for _, a := range full.Attempts {
		if a.ErrorKind == "" {
			t.Fatalf("an attempt succeeded with the broker away: %+v", full.Attempts)
		}
	}
	proxy.Up()
	select {
	case m := <-msgs:
		if !strings.Contains(string(m.Data), `"Ann"`) {
			t.Errorf("published %s", m.Data)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("nothing published once the broker was back")
	}
	s.WaitDelivery(evID, "succeeded", 0, 20*time.Second)
}
