package broker

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
	"github.com/heraldhq/herald/internal/shape"
)

const pubsubTestProject = "herald-test"

// pubsubFake is Google's in-process Pub/Sub with one topic and one
// subscription of it, both named after the test.
type pubsubFake struct {
	srv   *pstest.Server
	admin *pubsub.Client
	topic string // id
	sub   string // full name
}

func newPubSubFake(t *testing.T) *pubsubFake {
	t.Helper()
	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	t.Cleanup(func() { srv.Close() })
	ctx := testCtx(t)
	admin, err := pubsub.NewClient(ctx, pubsubTestProject,
		option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	f := &pubsubFake{srv: srv, admin: admin, topic: pubsubTestName(t)}
	topic := "projects/" + pubsubTestProject + "/topics/" + f.topic
	if _, err := admin.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	f.sub = "projects/" + pubsubTestProject + "/subscriptions/" + f.topic + "-sub"
	if _, err := admin.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{
		Name: f.sub, Topic: topic, EnableMessageOrdering: true, AckDeadlineSeconds: 60,
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

// pubsubTestName is a topic id unique to the test.
func pubsubTestName(t *testing.T) string {
	n := strings.NewReplacer("/", "-", " ", "-", "=", "-").Replace(t.Name())
	return fmt.Sprintf("%s-%x", n, time.Now().UnixNano())
}

func (f *pubsubFake) dest(endpoint string) *herald.Destination {
	return &herald.Destination{Project: pubsubTestProject, Topic: f.topic, Endpoint: endpoint}
}

// pull reads and acknowledges messages until want of them arrived or the
// deadline passed.
func (f *pubsubFake) pull(t *testing.T, want int) []*pb.PubsubMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []*pb.PubsubMessage
	for len(got) < want {
		r, err := f.admin.SubscriptionAdminClient.Pull(ctx, &pb.PullRequest{Subscription: f.sub, MaxMessages: 100})
		if err != nil {
			t.Fatalf("pull: got %d of %d messages: %v", len(got), want, err)
		}
		var ids []string
		for _, m := range r.ReceivedMessages {
			got = append(got, m.Message)
			ids = append(ids, m.AckId)
		}
		if len(ids) > 0 {
			if err := f.admin.SubscriptionAdminClient.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: f.sub, AckIds: ids}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return got
}

func openPubSub(t *testing.T, d *herald.Destination) outbound.Client {
	t.Helper()
	c, err := NewPubSub().Open(testCtx(t), d, testEnv())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func pubsubMessage(d *herald.Destination, id string, body string) *outbound.Message {
	return &outbound.Message{Dest: d, ID: id, Body: []byte(body), Headers: []outbound.Header{
		{Name: "webhook-id", Value: id},
		{Name: "webhook-timestamp", Value: "1767225600"},
		{Name: "webhook-signature", Value: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
		{Name: "content-type", Value: "application/json"},
		{Name: "x-tenant", Value: "acme"},
	}}
}

// pubsubKey is a service-account key of a fresh RSA key, as Google issues
// them.
func pubsubKey(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{
		"type":           "service_account",
		"project_id":     "herald-test",
		"private_key_id": "0123456789abcdef",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "herald@herald-test.iam.gserviceaccount.com",
		"client_id":      "1234567890",
		"token_uri":      "https://oauth2.googleapis.com/token",
	}
	if edit != nil {
		edit(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestPubSubCheck(t *testing.T) {
	key := pubsubKey(t, nil)
	good := func() *herald.Destination {
		return &herald.Destination{Project: "my-project-1", Topic: "orders", Endpoint: "127.0.0.1:8085"}
	}
	for _, c := range []struct {
		name  string
		edit  func(d *herald.Destination)
		field string // "" when valid
	}{
		{"minimal", func(d *herald.Destination) {}, ""},
		{"ordering key template", func(d *herald.Destination) { d.OrderingKey = "{{payload.customer_id}}" }, ""},
		{"ordering key fixed", func(d *herald.Destination) { d.OrderingKey = "all" }, ""},
		{"long template ordering key", func(d *herald.Destination) { d.OrderingKey = "{{payload.id}}" + strings.Repeat("x", 2000) }, ""},
		{"credentials", func(d *herald.Destination) { d.CredentialsJSON, d.Endpoint = key, "" }, ""},
		{"no credentials", func(d *herald.Destination) { d.Endpoint = "" }, "credentials_json"},
		{"emulator host:port", func(d *herald.Destination) { d.Endpoint = "localhost:8085" }, ""},
		{"emulator http", func(d *herald.Destination) { d.Endpoint = "http://127.0.0.1:8085" }, ""},
		{"domain-scoped project", func(d *herald.Destination) { d.Project = "example.com:my-project" }, ""},
		{"topic charset", func(d *herald.Destination) { d.Topic = "Orders_v1.2~x+y%z-w" }, ""},

		{"no project", func(d *herald.Destination) { d.Project = "" }, "project"},
		{"project upper case", func(d *herald.Destination) { d.Project = "My-Project" }, "project"},
		{"project too short", func(d *herald.Destination) { d.Project = "abc" }, "project"},
		{"project digit first", func(d *herald.Destination) { d.Project = "1project" }, "project"},
		{"project ends with hyphen", func(d *herald.Destination) { d.Project = "project-" }, "project"},
		{"no topic", func(d *herald.Destination) { d.Topic = "" }, "topic"},
		{"topic too short", func(d *herald.Destination) { d.Topic = "ab" }, "topic"},
		{"topic digit first", func(d *herald.Destination) { d.Topic = "1orders" }, "topic"},
		{"topic space", func(d *herald.Destination) { d.Topic = "my orders" }, "topic"},
		{"topic full name", func(d *herald.Destination) { d.Topic = "projects/p/topics/orders" }, "topic"},
		{"topic goog", func(d *herald.Destination) { d.Topic = "googorders" }, "topic"},
		{"topic too long", func(d *herald.Destination) { d.Topic = "a" + strings.Repeat("b", 255) }, "topic"},
		{"topic template", func(d *herald.Destination) { d.Topic = "{{event_type}}" }, "topic"},
		{"ordering key too long", func(d *herald.Destination) { d.OrderingKey = strings.Repeat("k", 1025) }, "ordering_key"},
		{"endpoint https", func(d *herald.Destination) { d.Endpoint = "https://pubsub.example.com:443" }, "endpoint"},
		{"endpoint no port", func(d *herald.Destination) { d.Endpoint = "localhost" }, "endpoint"},
		{"endpoint bad port", func(d *herald.Destination) { d.Endpoint = "localhost:99999" }, "endpoint"},
		{"endpoint path", func(d *herald.Destination) { d.Endpoint = "http://localhost:8085/v1" }, "endpoint"},
		{"endpoint and credentials", func(d *herald.Destination) { d.Endpoint = "localhost:8085"; d.CredentialsJSON = key }, "credentials_json"},
		{"credentials not json", func(d *herald.Destination) { d.CredentialsJSON = "hunter2" }, "credentials_json"},
		{"credentials other type", func(d *herald.Destination) {
			d.CredentialsJSON = pubsubKey(t, func(m map[string]any) { m["type"] = "external_account" })
		}, "credentials_json"},
		{"credentials no email", func(d *herald.Destination) {
			d.CredentialsJSON = pubsubKey(t, func(m map[string]any) { delete(m, "client_email") })
		}, "credentials_json"},
		{"credentials bad key", func(d *herald.Destination) {
			d.CredentialsJSON = pubsubKey(t, func(m map[string]any) {
				m["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
			})
		}, "credentials_json"},
		{"credentials other universe", func(d *herald.Destination) {
			d.CredentialsJSON = pubsubKey(t, func(m map[string]any) { m["universe_domain"] = "evil.example" })
		}, "credentials_json"},
		{"credentials too big", func(d *herald.Destination) { d.CredentialsJSON = `{"type":"` + strings.Repeat("x", 20000) + `"}` }, "credentials_json"},
		{"url", func(d *herald.Destination) { d.URL = "nats://localhost:4222" }, "url"},
		{"username", func(d *herald.Destination) { d.Username = "u" }, "username"},
		{"password", func(d *herald.Destination) { d.Password = "p" }, "password"},
		{"subject", func(d *herald.Destination) { d.Subject = "s" }, "subject"},
		{"stream", func(d *herald.Destination) { d.Stream = "s" }, "stream"},
		{"exchange", func(d *herald.Destination) { d.Exchange = "x" }, "exchange"},
		{"routing_key", func(d *herald.Destination) { d.RoutingKey = "r" }, "routing_key"},
		{"brokers", func(d *herald.Destination) { d.Brokers = []string{"localhost:9092"} }, "brokers"},
		{"key", func(d *herald.Destination) { d.Key = "k" }, "key"},
		{"sasl", func(d *herald.Destination) { d.SASLMechanism = "plain" }, "sasl_mechanism"},
		{"tls", func(d *herald.Destination) { d.TLS = true }, "tls"},
		{"max_len", func(d *herald.Destination) { d.MaxLen = 10 }, "max_len"},
		{"queue_url", func(d *herald.Destination) { d.QueueURL = "http://q" }, "queue_url"},
		{"region", func(d *herald.Destination) { d.Region = "eu-west-1" }, "region"},
		{"access_key_id", func(d *herald.Destination) { d.AccessKeyID = "A" }, "access_key_id"},
		{"secret_access_key", func(d *herald.Destination) { d.SecretAccessKey = "S" }, "secret_access_key"},
		{"message_group_id", func(d *herald.Destination) { d.MessageGroupID = "g" }, "message_group_id"},
		{"deduplication_id", func(d *herald.Destination) { d.DeduplicationID = "d" }, "deduplication_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := good()
			c.edit(d)
			err := NewPubSub().Check(d)
			want := ""
			if c.field != "" {
				want = "destination." + c.field
			}
			fe := wantFieldError(t, err, want)
			if fe == nil {
				return
			}
			if fe.Msg == "" {
				t.Fatalf("field %s has no message", fe.Field)
			}
			if strings.Contains(fe.Msg, "PRIVATE KEY") || strings.Contains(fe.Msg, "hunter2") {
				t.Fatalf("the error quotes the secret: %q", fe.Msg)
			}
		})
	}
	if err := NewPubSub().Check(nil); err == nil {
		t.Fatal("a nil destination passed")
	}
}

func TestPubSubHosts(t *testing.T) {
	k := NewPubSub()
	if k.Name() != herald.KindGCPPubSub {
		t.Fatalf("name %q", k.Name())
	}
	for _, c := range []struct {
		endpoint string
		want     []string
	}{
		{"", []string{"pubsub.googleapis.com:443"}},
		{"localhost:8085", []string{"localhost:8085"}},
		{"http://10.0.0.7:8085", []string{"10.0.0.7:8085"}},
		{"http://emulator", []string{"emulator:80"}},
	} {
		got := k.Hosts(&herald.Destination{Project: "my-project", Topic: "orders", Endpoint: c.endpoint})
		if !slices.Equal(got, c.want) {
			t.Errorf("endpoint %q: hosts %v, want %v", c.endpoint, got, c.want)
		}
	}
}

func TestPubSubPublishArrives(t *testing.T) {
	f := newPubSubFake(t)
	d := f.dest(f.srv.Addr)
	d.OrderingKey = "{{payload.customer}}"
	c := openPubSub(t, d)
	body := "{\"type\":\"order.paid\",\"data\":{\"id\":\"ord_1\",\"name\":\"山田\"}}\n\x00\xff"
	md := *d
	md.OrderingKey = "cust_42" // as rendered
	ack, err := c.Publish(testCtx(t), pubsubMessage(&md, "msg_2ZfTq", body))
	if err != nil {
		t.Fatal(err)
	}
	got := f.pull(t, 1)
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	m := got[0]
	if ack != "message id "+m.MessageId {
		t.Fatalf("ack %q, message id %q", ack, m.MessageId)
	}
	if string(m.Data) != body {
		t.Fatalf("data %q, want %q", m.Data, body)
	}
	want := map[string]string{
		"webhook-id":        "msg_2ZfTq",
		"webhook-timestamp": "1767225600",
		"webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
		"content-type":      "application/json",
		"x-tenant":          "acme",
	}
	if len(m.Attributes) != len(want) {
		t.Fatalf("attributes %v, want %v", m.Attributes, want)
	}
	for k, v := range want {
		if m.Attributes[k] != v {
			t.Fatalf("attribute %s = %q, want %q", k, m.Attributes[k], v)
		}
	}
	if m.OrderingKey != "cust_42" {
		t.Fatalf("ordering key %q", m.OrderingKey)
	}
}

func TestPubSubBrokerDown(t *testing.T) {
	f := newPubSubFake(t)
	p := brokertest.NewProxy(t, f.srv.Addr)
	c := openPubSub(t, f.dest(p.Addr()))
	if _, err := c.Publish(testCtx(t), pubsubMessage(f.dest(p.Addr()), "msg_before", "before")); err != nil {
		t.Fatal(err)
	}
	p.Down()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := c.Publish(ctx, pubsubMessage(f.dest(p.Addr()), "msg_down", "down"))
	cancel()
	if err == nil {
		t.Fatal("published with the service away")
	}
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindConnect {
		t.Fatalf("error kind %q (%v), want connect", k, err)
	}
	p.Up()
	// gRPC reconnects in the background, within its short backoff; the
	// attempts before that fail like the one above, and arrive never.
	deadline := time.Now().Add(20 * time.Second)
	var failed []string
	for i := 0; ; i++ {
		id := fmt.Sprintf("msg_after_%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.Publish(ctx, pubsubMessage(f.dest(p.Addr()), id, id))
		cancel()
		if err == nil {
			break
		}
		failed = append(failed, id)
		if time.Now().After(deadline) {
			t.Fatalf("no publish went through after the service came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := f.pull(t, 2)
	var bodies []string
	for _, m := range got {
		bodies = append(bodies, string(m.Data))
	}
	slices.Sort(bodies)
	if len(bodies) != 2 || bodies[0] != "before" || !strings.HasPrefix(bodies[1], "msg_after_") {
		t.Fatalf("arrived %q (failed attempts %q)", bodies, failed)
	}
	if slices.Contains(failed, bodies[1]) {
		t.Fatalf("%s arrived though its publish failed", bodies[1])
	}
}

func TestPubSubNotAcknowledged(t *testing.T) {
	t.Run("no topic", func(t *testing.T) {
		f := newPubSubFake(t)
		d := f.dest(f.srv.Addr)
		d.Topic = "missing-" + f.topic
		c := openPubSub(t, d)
		_, err := c.Publish(testCtx(t), pubsubMessage(d, "msg_1", "x"))
		if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindRejected {
			t.Fatalf("error %v, kind %q, want rejected", err, k)
		}
	})
	t.Run("refused", func(t *testing.T) {
		f := newPubSubFake(t)
		c := openPubSub(t, f.dest(f.srv.Addr))
		f.srv.SetAutoPublishResponse(false)
		f.srv.AddPublishResponse(nil, status.Error(codes.FailedPrecondition, "topic is being deleted"))
		_, err := c.Publish(testCtx(t), pubsubMessage(f.dest(f.srv.Addr), "msg_1", "x"))
		if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindRejected {
			t.Fatalf("error %v, kind %q, want rejected", err, k)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		f := newPubSubFake(t)
		c := openPubSub(t, f.dest(f.srv.Addr))
		f.srv.SetAutoPublishResponse(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.Publish(ctx, pubsubMessage(f.dest(f.srv.Addr), "msg_1", "x"))
		if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindTimeout {
			t.Fatalf("error %v, kind %q, want timeout", err, k)
		}
		// The answer the fake still owes the detached RPC lets it end.
		f.srv.AddPublishResponse(&pb.PublishResponse{MessageIds: []string{"late"}}, nil)
	})
	t.Run("ordering key resumes", func(t *testing.T) {
		f := newPubSubFake(t)
		d := f.dest(f.srv.Addr)
		d.OrderingKey = "{{payload.customer}}"
		md := *d
		md.OrderingKey = "cust_1"
		c := openPubSub(t, d)
		f.srv.SetAutoPublishResponse(false)
		f.srv.AddPublishResponse(nil, status.Error(codes.InvalidArgument, "no"))
		if _, err := c.Publish(testCtx(t), pubsubMessage(&md, "msg_1", "first")); outbound.ErrorKindOf(err) != herald.ErrorKindRejected {
			t.Fatalf("error %v, want rejected", err)
		}
		f.srv.SetAutoPublishResponse(true)
		if _, err := c.Publish(testCtx(t), pubsubMessage(&md, "msg_2", "second")); err != nil {
			t.Fatalf("the key stayed paused after a failure: %v", err)
		}
		if got := f.pull(t, 1); string(got[0].Data) != "second" || got[0].OrderingKey != "cust_1" {
			t.Fatalf("arrived %q key %q", got[0].Data, got[0].OrderingKey)
		}
	})
	t.Run("reserved attribute", func(t *testing.T) {
		f := newPubSubFake(t)
		c := openPubSub(t, f.dest(f.srv.Addr))
		m := pubsubMessage(f.dest(f.srv.Addr), "msg_1", "x")
		m.Headers = append(m.Headers, outbound.Header{Name: "googclient_x", Value: "1"})
		if _, err := c.Publish(testCtx(t), m); outbound.ErrorKindOf(err) != herald.ErrorKindRejected {
			t.Fatalf("error %v, want rejected", err)
		}
	})
}

// The fake checks no credentials; a service that refuses Herald's is
// played by its answer, the status codes Pub/Sub gives.
func TestPubSubAuth(t *testing.T) {
	for _, code := range []codes.Code{codes.PermissionDenied, codes.Unauthenticated} {
		t.Run(code.String(), func(t *testing.T) {
			f := newPubSubFake(t)
			c := openPubSub(t, f.dest(f.srv.Addr))
			f.srv.SetAutoPublishResponse(false)
			f.srv.AddPublishResponse(nil, status.Error(code, "refused"))
			_, err := c.Publish(testCtx(t), pubsubMessage(f.dest(f.srv.Addr), "msg_1", "x"))
			if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindAuth {
				t.Fatalf("error %v, kind %q, want auth", err, k)
			}
		})
	}
	t.Run("key opens, dials through env", func(t *testing.T) {
		d := &herald.Destination{Project: "herald-test", Topic: "orders", CredentialsJSON: pubsubKey(t, nil)}
		// Google is not reachable from tests: the dialer refuses, so that
		// the client's background connect goes nowhere.
		env := testEnv()
		env.Dial = func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("no network in this test")
		}
		c, err := NewPubSub().Open(testCtx(t), d, env)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = c.Publish(ctx, pubsubMessage(d, "msg_1", "x"))
		if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindNetwork && k != herald.ErrorKindConnect {
			t.Fatalf("error %v, kind %q, want connect or network", err, k)
		}
		t.Logf("%s: %v", outbound.ErrorKindOf(err), err)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPubSubConcurrent(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			f := newPubSubFake(t)
			d := f.dest(f.srv.Addr)
			if ordered {
				d.OrderingKey = "{{payload.customer}}"
			}
			c := openPubSub(t, d)
			const n = 50
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					md := *d
					md.OrderingKey = ""
					if ordered {
						md.OrderingKey = fmt.Sprintf("cust_%d", i%3)
					}
					id := fmt.Sprintf("msg_%d", i)
					if _, err := c.Publish(testCtx(t), pubsubMessage(&md, id, id)); err != nil {
						errs <- fmt.Errorf("%s: %w", id, err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			seen := map[string]bool{}
			for _, m := range f.pull(t, n) {
				if seen[string(m.Data)] || m.Attributes["webhook-id"] != string(m.Data) {
					t.Fatalf("message %q (webhook-id %q) twice or mislabelled", m.Data, m.Attributes["webhook-id"])
				}
				seen[string(m.Data)] = true
			}
			if len(seen) != n {
				t.Fatalf("%d distinct messages, want %d", len(seen), n)
			}
		})
	}
}

func TestPubSubClose(t *testing.T) {
	f := newPubSubFake(t)
	c := openPubSub(t, f.dest(f.srv.Addr))
	if _, err := c.Publish(testCtx(t), pubsubMessage(f.dest(f.srv.Addr), "msg_1", "x")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(testCtx(t), pubsubMessage(f.dest(f.srv.Addr), "msg_2", "y")); err == nil {
		t.Fatal("published after Close")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Open refuses what Check refuses, before any connection.
func TestPubSubOpenChecks(t *testing.T) {
	_, err := NewPubSub().Open(testCtx(t), &herald.Destination{Project: "herald-test", Topic: "x"}, testEnv())
	if _, ok := errors.AsType[*shape.FieldError](err); !ok {
		t.Fatalf("error %v, want a field error", err)
	}
}

// Every connection goes through env.Dial: counted when allowed, and the
// destination policy's refusal is the attempt's error kind.
func TestPubSubDialsThroughEnv(t *testing.T) {
	f := newPubSubFake(t)
	t.Run("counted", func(t *testing.T) {
		env := testEnv()
		var dials atomic.Int32
		base := env.Dial
		env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return base(ctx, network, addr)
		}
		c, err := NewPubSub().Open(testCtx(t), f.dest(f.srv.Addr), env)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Publish(testCtx(t), pubsubMessage(f.dest(f.srv.Addr), "msg_1", "x")); err != nil {
			t.Fatal(err)
		}
		if dials.Load() == 0 {
			t.Fatal("published without dialling through env.Dial")
		}
	})
	t.Run("policy", func(t *testing.T) {
		env := testEnv()
		env.Dial = netpolicy.New(netpolicy.Options{}).DialContext(nil)
		c, err := NewPubSub().Open(testCtx(t), f.dest(f.srv.Addr), env)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = c.Publish(ctx, pubsubMessage(f.dest(f.srv.Addr), "msg_2", "y"))
		if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindPolicy {
			t.Fatalf("error %v, kind %q, want policy", err, k)
		}
	})
	if got := f.pull(t, 1); len(got) != 1 || string(got[0].Data) != "x" {
		t.Fatalf("arrived %v", got)
	}
}
