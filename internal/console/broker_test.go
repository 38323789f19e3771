package console_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// natsAddr is the NATS server (with JetStream) the console's broker test
// publishes to. Outside CI the test skips without it; in CI (HERALD_CI)
// it fails.
const natsAddr = "127.0.0.1:4222"

// natsStream makes a JetStream stream in memory holding subjects, removed
// when the test ends, and returns it.
func natsStream(t *testing.T, name, subjects string) jetstream.Stream {
	t.Helper()
	c, err := net.DialTimeout("tcp", natsAddr, 2*time.Second)
	if err != nil {
		if os.Getenv("HERALD_CI") != "" {
			t.Fatalf("NATS is not running on %s: %v", natsAddr, err)
		}
		t.Skipf("NATS is not running on %s: %v", natsAddr, err)
	}
	c.Close()
	nc, err := nats.Connect("nats://"+natsAddr, nats.Timeout(5*time.Second))
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
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subjects}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, name)
	})
	return st
}

// headerValue is a NATS header's value by its name in any case.
func headerValue(h nats.Header, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestConsoleNATSEndpoint creates a NATS endpoint through the form: the
// HTTP fields give way to the kind's, the API's refusal sits by the
// destination field it names, the preview shows where the message goes;
// a test send is published to a JetStream stream, and the endpoint's
// pages and the delivery's page show where it was published and the
// stream's acknowledgement, without a curl command.
func TestConsoleNATSEndpoint(t *testing.T) {
	sfx := randomSuffix(t)
	stream := "HERALD_UI_" + strings.ToUpper(sfx)
	subjects := "ui." + sfx + ".>"
	st := natsStream(t, stream, subjects)
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "sample": map[string]any{"lead": "sample"}}, nil, 201)
	appID := s.AppID("acme")
	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/new")
	tb.waitText("main", "Preview")
	tb.waitFor(`input[type=checkbox][value="lead.created"]`)
	selectValue(tb, "select[name=kind]", "nats")
	tb.until(`(() => {
		const shown = (n) => document.querySelector('[data-field="' + n + '"]').getClientRects().length > 0;
		return !shown('url') && !shown('preset') && !shown('method') && shown('content_type') && shown('headers') && shown('body_template')
			&& shown('destination.url') && shown('destination.subject') && shown('destination.stream') && shown('destination.password')
			&& !shown('destination.topic') && !shown('destination.queue_url') && !shown('destination.tls');
	})()`)
	if typ := tb.evalString(`document.querySelector('input[name="destination.password"]').type`); typ != "password" {
		t.Errorf("the NATS password is a %q input, want password", typ)
	}
	tb.click(`input[type=checkbox][value="lead.created"]`)
	tb.fill(`input[name="destination.url"]`, "nats://"+natsAddr)

	// No subject: the API's refusal by the subject field.
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText(`[data-field="destination.subject"] .field-error`, "required")

	tb.fill(`input[name="destination.subject"]`, "ui."+sfx+".{{event.type}}")
	tb.fill(`input[name="destination.stream"]`, stream)
	tb.fill(`textarea[name=headers]`, "X-Tenant: acme")
	tb.fill(`input[name=plain_headers]`, "X-Tenant")
	// The preview: where the message goes, its headers and body.
	want := "nats://" + natsAddr + " subject ui." + sfx + ".lead.created stream " + stream
	tb.waitText("#preview", "Published to")
	tb.waitText("#preview", want)
	// A broker's message has lower-case header names.
	tb.waitText("#preview", "x-tenant: acme")
	tb.waitText("#preview", `"lead": "sample"`)
	checkLabels(t, tb, "nats endpoint form")
	tb.shot("nats-endpoint-form")

	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText("main h1", "NATS nats://"+natsAddr)
	tb.waitText("main .facts", "NATS: Herald publishes each delivery to the broker")
	tb.waitText("main .facts", "subject ui."+sfx+".{{event.type}} stream "+stream)
	tb.phone(true)
	if tb.overflowsX() {
		t.Errorf("the NATS endpoint's page scrolls sideways at phone width")
	}
	tb.shot("nats-endpoint-phone")
	tb.phone(false)
	var eps struct {
		Data []struct {
			ID, Kind, URL string
			Destination   map[string]any
		}
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &eps, 200)
	if len(eps.Data) != 1 || eps.Data[0].Kind != "nats" || eps.Data[0].URL != "" || eps.Data[0].Destination["stream"] != stream {
		t.Fatalf("endpoints after the form: %+v", eps.Data)
	}

	// A test send, published and acknowledged by the stream.
	ack := "stream " + stream + " seq 1"
	tb.click("#test-send")
	tb.waitText("#test-result", "Acknowledged: "+ack)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("the stream holds no message 1: %v", err)
	}
	if msg.Subject != "ui."+sfx+".lead.created" || headerValue(msg.Header, "X-Tenant") != "acme" || headerValue(msg.Header, "Webhook-Signature") == "" {
		t.Errorf("published %s with headers %v", msg.Subject, msg.Header)
	}

	// The delivery's page: where it was published and the acknowledgement.
	tb.click("#test-result a.mono")
	tb.waitFor(".delivery-outcome")
	tb.waitText(".delivery-outcome", "Acknowledged: "+ack)
	tb.waitText(".delivery-request", "Published to "+want)
	tb.waitText(".delivery-request", "x-tenant: acme")
	if tb.evalBool(`!!document.querySelector('#curl-latest, [id^=curl-]')`) {
		t.Errorf("the delivery page of a NATS endpoint offers a curl command")
	}
	if out := tb.text(".delivery-outcome"); strings.Contains(out, "HTTP 200") {
		t.Errorf("the outcome of a publish reads as HTTP: %q", out)
	}
	tb.shot("nats-delivery")

	// The list names the endpoint by its kind and destination.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints")
	tb.waitText("main table", "NATS nats://"+natsAddr+" subject ui."+sfx)

	// A subject no stream holds: the broker refuses, and the page says so.
	var lost struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "nats", "event_types": []string{"lead.created"},
		"destination": map[string]any{"url": "nats://" + natsAddr, "subject": "nostream." + sfx, "stream": stream}}, &lost, 201)
	var sent struct {
		Delivery struct{ ID, Status string }
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+lost.ID+"/test", map[string]any{"event_type": "lead.created", "payload": map[string]any{"n": 1}}, &sent, 200)
	tb.open(s.URL + "/console/apps/" + appID + "/deliveries/" + sent.Delivery.ID)
	tb.waitFor(".delivery-outcome")
	tb.waitText(".delivery-outcome", "Not acknowledged")
	tb.waitText(".delivery-outcome", "The broker refused the message")
	tb.waitText(".delivery-outcome", "no stream holds subject")
	tb.shot("nats-delivery-rejected")
	// The same in Japanese.
	selectValue(tb, ".lang select", "ja")
	tb.waitText(".delivery-outcome", "受信確認なし")
	tb.waitText(".delivery-outcome", "ブローカーがメッセージを拒否しました")
	tb.waitText(".delivery-request", "パブリッシュ先：nats://"+natsAddr)
	selectValue(tb, ".lang select", "en")
	tb.waitText(".delivery-outcome h2", "Outcome")

	// An event's refused publish is on the failures page, under the
	// endpoint's kind and destination.
	s.Send(map[string]any{"n": 2})
	deadline := time.Now().Add(15 * time.Second)
	for {
		var rep struct {
			Data []struct {
				EndpointID string `json:"endpoint_id"`
				ErrorKind  string `json:"error_kind"`
			} `json:"data"`
		}
		s.MustDo("GET", "/v1/apps/acme/failures", nil, &rep, 200)
		if len(rep.Data) > 0 {
			if rep.Data[0].EndpointID != lost.ID || rep.Data[0].ErrorKind != "rejected" {
				t.Fatalf("failures: %+v", rep.Data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refused publish never showed in the failures report")
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.open(s.URL + "/console/apps/" + appID + "/failures")
	tb.waitText("main .fail-endpoint h2", "NATS nats://"+natsAddr+" subject nostream."+sfx)
	tb.waitText("main .fail-endpoint", "rejected")
	// A broker endpoint has no URL, but is there to act on: its group
	// offers "Resend all" as an HTTP endpoint's does.
	tb.waitFor("main .fail-endpoint tr.fail-group button.resend-all")
}

// TestPortalBrokerKinds: a portal's customer may create an endpoint of
// every broker kind (but not a pull endpoint), and the form shows each
// kind's own fields.
func TestPortalBrokerKinds(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	appID := s.AppID("acme")
	var portal struct{ URL string }
	s.MustDo("POST", "/v1/apps/"+appID+"/portal-sessions", map[string]any{}, &portal, 201)
	base := strings.Split(portal.URL, "/portal/")[0] + "/portal"
	tb := b.tab()
	defer b.checkClean()
	tb.open(portal.URL)
	tb.waitText("main h1", "Endpoints")

	tb.open(base + "/endpoints/new")
	tb.waitFor("#endpoint-form select[name=kind]")
	kinds := tb.evalString(`[...document.querySelectorAll('select[name=kind] option')].map((o) => o.value + '=' + o.textContent).join(',')`)
	if want := "push=Push: Herald sends to a URL,nats=NATS,rabbitmq=RabbitMQ,kafka=Kafka,redis=Redis Streams,mqtt=MQTT,gcp_pubsub=Google Pub/Sub,aws_sqs=Amazon SQS"; kinds != want {
		t.Errorf("portal kinds:\n got %s\nwant %s", kinds, want)
	}
	if tb.evalBool(`document.querySelector('[data-field=kind]').hidden`) {
		t.Errorf("the portal hides the kind of a new endpoint")
	}
	selectValue(tb, "select[name=kind]", "redis")
	tb.until(`(() => {
		const shown = (n) => document.querySelector('[data-field="' + n + '"]').getClientRects().length > 0;
		return !shown('url') && shown('destination.url') && shown('destination.stream') && shown('destination.max_len') && !shown('destination.subject');
	})()`)
	selectValue(tb, "select[name=kind]", "aws_sqs")
	tb.until(`(() => {
		const shown = (n) => document.querySelector('[data-field="' + n + '"]').getClientRects().length > 0;
		return shown('destination.queue_url') && shown('destination.secret_access_key') && !shown('destination.url') && !shown('destination.stream');
	})()`)
	checkLabels(t, tb, "portal broker form")
	tb.shot("portal-broker-kinds")

	// In Japanese: the kind's fields and the preview say so.
	var ja struct{ URL string }
	s.MustDo("POST", "/v1/apps/"+appID+"/portal-sessions", map[string]any{"language": "ja"}, &ja, 201)
	tb.open(ja.URL)
	tb.waitText("main h1", "エンドポイント")
	tb.open(base + "/endpoints/new")
	tb.waitFor("#endpoint-form select[name=kind]")
	selectValue(tb, "select[name=kind]", "nats")
	tb.waitText(`[data-field="destination.subject"] label`, "サブジェクト")
	tb.waitText(`[data-field="destination.stream"] .hint`, "JetStream のストリーム")
	tb.waitText(`[data-field=kind] .hint`, "ブローカーの受信確認")
	tb.waitText("#preview", "パブリッシュされません")
}

// TestConsoleBrokerEndpointEdit: editing a broker endpoint shows its
// destination with the password masked and the kind fixed; a save that
// changes the subject keeps the stored password, and a destination
// field the kind refuses is explained by that field.
func TestConsoleBrokerEndpointEdit(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	appID := s.AppID("acme")
	sfx := randomSuffix(t)
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "redis", "destination": map[string]any{
		"url": "redis://" + "127.0.0.1:6379/0", "username": "herald", "password": "pw-" + sfx, "stream": "ui-" + sfx}}, &ep, 201)
	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + ep.ID + "/edit")
	tb.waitFor(`input[name="destination.stream"]`)
	if got := tb.evalString(`JSON.stringify([document.querySelector('select[name=kind]').value, document.querySelector('select[name=kind]').disabled,
		document.querySelector('input[name="destination.password"]').value, document.querySelector('input[name="destination.password"]').type])`); got != `["redis",true,"********","password"]` {
		t.Errorf("kind and password in the edit form: %s", got)
	}
	if strings.Contains(tb.text("body"), "pw-"+sfx) {
		t.Errorf("the edit form shows the stored password")
	}
	tb.fill(`input[name="destination.max_len"]`, "-1")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText(`[data-field="destination.max_len"] .field-error`, "max_len")
	tb.fill(`input[name="destination.max_len"]`, "1000")
	tb.fill(`input[name="destination.stream"]`, "ui2-"+sfx)
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText("main .facts", "stream ui2-"+sfx)

	var got struct {
		Destination map[string]any
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID, nil, &got, 200)
	if got.Destination["password"] != "********" || got.Destination["stream"] != "ui2-"+sfx || got.Destination["max_len"] != float64(1000) {
		t.Errorf("destination after the edit: %v", got.Destination)
	}
}
