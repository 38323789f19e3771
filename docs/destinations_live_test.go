package docs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker"
	"github.com/heraldhq/herald/verify"
)

// liveCase runs one consumer program of destinations.md against a real
// broker on loopback, fed by Herald's own publisher of that kind.
type liveCase struct {
	addr string
	// names maps the names the program uses to the test's own (and the
	// broker's address, when setup chose it), so that tests never share a
	// queue or a stream.
	names func(name, endpoint string) map[string]string
	// setup, when set, starts what the test needs (an emulator) and
	// returns the consumer's extra environment and the destination's
	// endpoint.
	setup func(t *testing.T, name string) (env []string, endpoint string)
	dest  func(name, endpoint string) *herald.Destination
	// cleanup removes what the test created on the broker.
	cleanup func(t *testing.T, name string)
}

var liveCases = map[string]liveCase{
	herald.KindRedis: {
		addr:  "127.0.0.1:6379",
		names: func(n, _ string) map[string]string { return map[string]string{`"orders"`: strconv.Quote(n)} },
		dest: func(n, _ string) *herald.Destination {
			return &herald.Destination{URL: "redis://127.0.0.1:6379/0", Stream: n}
		},
		cleanup: func(t *testing.T, n string) {
			rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
			defer rdb.Close()
			if err := rdb.Del(context.Background(), n).Err(); err != nil {
				t.Errorf("removing stream %s: %v", n, err)
			}
		},
	},
	herald.KindRabbitMQ: {
		addr: "127.0.0.1:5672",
		names: func(n, _ string) map[string]string {
			return map[string]string{`"orders"`: strconv.Quote(n + ".x"), `"billing"`: strconv.Quote(n + ".q")}
		},
		dest: func(n, _ string) *herald.Destination {
			return &herald.Destination{URL: "amqp://127.0.0.1:5672/", Username: "guest", Password: "guest", Exchange: n + ".x", RoutingKey: "order.created"}
		},
		cleanup: func(t *testing.T, n string) {
			conn, err := amqp.Dial("amqp://guest:guest@127.0.0.1:5672/")
			if err != nil {
				t.Errorf("removing queue %s: %v", n, err)
				return
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err == nil {
				_, err = ch.QueueDelete(n+".q", false, false, false)
			}
			if err == nil {
				err = ch.ExchangeDelete(n+".x", false, false)
			}
			if err != nil {
				t.Errorf("removing queue and exchange %s: %v", n, err)
			}
		},
	},
	herald.KindMQTT: {
		addr: "127.0.0.1:1883",
		names: func(n, _ string) map[string]string {
			return map[string]string{`"orders/#"`: strconv.Quote(n + "/#"), `"billing"`: strconv.Quote(n)}
		},
		dest: func(n, _ string) *herald.Destination {
			return &herald.Destination{URL: "mqtt://127.0.0.1:1883", Topic: n + "/order.created"}
		},
		cleanup: func(*testing.T, string) {},
	},
	// JetStream on the local NATS server; the stream is made and removed
	// by a program of its own, built with nats.go as the consumer is.
	herald.KindNATS: {
		addr: "127.0.0.1:4222",
		names: func(n, _ string) map[string]string {
			return map[string]string{`"ORDERS"`: strconv.Quote(n), `"billing"`: strconv.Quote(n)}
		},
		setup: func(t *testing.T, n string) ([]string, string) {
			bin := buildProgram(t, "natsstream", natsStreamProgram)
			if out, err := exec.Command(bin, "create", n).CombinedOutput(); err != nil {
				t.Fatalf("creating stream %s: %v\n%s", n, err, out)
			}
			t.Cleanup(func() {
				if out, err := exec.Command(bin, "delete", n).CombinedOutput(); err != nil {
					t.Errorf("removing stream %s: %v\n%s", n, err, out)
				}
			})
			return nil, ""
		},
		dest: func(n, _ string) *herald.Destination {
			return &herald.Destination{URL: "nats://127.0.0.1:4222", Subject: n + ".order.created", Stream: n}
		},
		cleanup: func(*testing.T, string) {},
	},
	// franz-go's in-process Kafka (kfake), run by a program of its own;
	// the consumer is pointed at its address.
	herald.KindKafka: {
		names: func(n, addr string) map[string]string {
			return map[string]string{`"127.0.0.1:9092"`: strconv.Quote(addr), `"orders"`: strconv.Quote(n), `"billing"`: strconv.Quote(n)}
		},
		setup: func(t *testing.T, n string) ([]string, string) {
			bin := buildProgram(t, "kfake", kfakeProgram)
			cmd := exec.Command(bin, n)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			out := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				stdin.Close()
				_ = cmd.Wait()
			})
			waitFor(func() bool { return strings.Contains(out.String(), "\n") }, 20*time.Second)
			addr, _, ok := strings.Cut(out.String(), "\n")
			if !ok || strings.Contains(addr, " ") {
				t.Fatalf("kfake did not start: %s", out)
			}
			return nil, addr
		},
		dest: func(n, addr string) *herald.Destination {
			return &herald.Destination{Brokers: []string{addr}, Topic: n}
		},
		cleanup: func(*testing.T, string) {},
	},
	// Google's in-process Pub/Sub, which the consumer finds through
	// PUBSUB_EMULATOR_HOST and Herald through destination.endpoint.
	herald.KindGCPPubSub: {
		names: func(n, _ string) map[string]string { return map[string]string{`"billing"`: strconv.Quote(n)} },
		setup: func(t *testing.T, n string) ([]string, string) {
			srv := pstest.NewServerWithAddress("127.0.0.1:0")
			t.Cleanup(func() { srv.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			admin, err := pubsub.NewClient(ctx, "acme-prod", option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
				option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			topic := "projects/acme-prod/topics/" + n
			if _, err := admin.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: topic}); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{Name: "projects/acme-prod/subscriptions/" + n, Topic: topic}); err != nil {
				t.Fatal(err)
			}
			return []string{"PUBSUB_EMULATOR_HOST=" + srv.Addr}, srv.Addr
		},
		dest: func(n, endpoint string) *herald.Destination {
			return &herald.Destination{Project: "acme-prod", Topic: n, Endpoint: endpoint}
		},
		cleanup: func(*testing.T, string) {},
	},
}

// TestDestinationConsumersLive runs the consumer programs of the kinds
// whose brokers run on this machine: a message Herald's publisher sends,
// signed with the endpoint's secret, is handled; one signed with another
// secret is dropped.
func TestDestinationConsumersLive(t *testing.T) {
	kinds := map[string]outbound.Kind{}
	for _, k := range broker.Kinds() {
		kinds[k.Name()] = k
	}
	for _, b := range goBlocks(t, "destinations.md") {
		lc, ok := liveCases[b.kind]
		if !ok {
			continue
		}
		t.Run(b.kind, func(t *testing.T) {
			kind := kinds[b.kind]
			if kind == nil {
				t.Skipf("this build has no %s kind yet", b.kind)
			}
			if lc.addr != "" {
				needBroker(t, b.kind, lc.addr)
			}
			name := "herald_docs_" + strings.ReplaceAll(b.kind, "_", "") + "_" + randomHex(t)
			t.Cleanup(func() { lc.cleanup(t, name) })
			var env []string
			endpoint := ""
			if lc.setup != nil {
				env, endpoint = lc.setup(t, name)
			}

			src := b.text
			for from, to := range lc.names(name, endpoint) {
				if !strings.Contains(src, from) {
					t.Fatalf("destinations.md:%d: the %s consumer no longer uses %s", b.line, b.kind, from)
				}
				src = strings.ReplaceAll(src, from, to)
			}
			const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
			out := startConsumer(t, b.kind, src, append(env, "HERALD_WEBHOOK_SECRET="+secret))

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			d := lc.dest(name, endpoint)
			if err := kind.Check(d); err != nil {
				t.Fatal(err)
			}
			c, err := kind.Open(ctx, d, outbound.Env{Dial: (&net.Dialer{}).DialContext, HTTP: http.DefaultClient, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()

			body := []byte(`{"type":"order.created","timestamp":"2026-12-04T10:00:00.000Z","data":{"id":"ord_1","customer_id":"cus_42"}}`)
			good := signed(t, d, "msg_good_"+name, secret, body)
			want := good.ID + ": " + string(body)
			// Until the consumer has bound its queue or subscribed, a
			// message may be refused or reach no one: publish again until
			// the consumer says it handled one.
			var lastErr error
			if !publishUntil(ctx, c, good, &lastErr, func() bool { return strings.Contains(out.String(), want) }) {
				t.Fatalf("the consumer did not handle the message (last publish error: %v); its output:\n%s", lastErr, out)
			}
			other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret, thirty-two bytes"))
			forged := signed(t, d, "msg_forged_"+name, other, body)
			if !publishUntil(ctx, c, forged, &lastErr, func() bool { return strings.Contains(out.String(), "no matching signature") }) {
				t.Fatalf("the consumer did not drop a message signed with another secret (last publish error: %v); its output:\n%s", lastErr, out)
			}
			if got := out.String(); strings.Contains(got, forged.ID+":") {
				t.Fatalf("the consumer handled a message signed with another secret:\n%s", got)
			}
		})
	}
}

// publishUntil publishes m, again each second, until done holds or 45
// seconds have passed; it reports whether done held.
func publishUntil(ctx context.Context, c outbound.Client, m *outbound.Message, lastErr *error, done func() bool) bool {
	deadline := time.Now().Add(45 * time.Second)
	for !done() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := c.Publish(pctx, m); err != nil {
			*lastErr = err
		}
		cancel()
		waitFor(done, time.Second)
	}
	return true
}

// signed is a message as Herald publishes it for an endpoint with secret.
func signed(t *testing.T, d *herald.Destination, id, secret string, body []byte) *outbound.Message {
	now := time.Now()
	sig, err := verify.Sign(secret, id, now, body)
	if err != nil {
		t.Fatal(err)
	}
	return &outbound.Message{Dest: d, ID: id, Body: body, Headers: []outbound.Header{
		{Name: "webhook-id", Value: id},
		{Name: "webhook-timestamp", Value: strconv.FormatInt(now.Unix(), 10)},
		{Name: "webhook-signature", Value: sig},
		{Name: "content-type", Value: "application/json"},
	}}
}

// startConsumer builds the program and runs it, with env added to its
// environment, until the test ends; what it logs is in the returned
// buffer.
func startConsumer(t *testing.T, kind, src string, env []string) *syncBuffer {
	bin := buildProgram(t, kind, src)
	out := &syncBuffer{}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return out
}

// buildProgram builds a main package inside the module (in a directory
// the go tool's ./... skips), so that it builds with the module's
// versions of the clients, and returns the binary's path.
func buildProgram(t *testing.T, name, src string) string {
	dir, err := os.MkdirTemp(".", "_consumer_"+name+"_")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", bin, "./"+filepath.Base(dir)).CombinedOutput(); err != nil {
		t.Fatalf("building the %s program: %v\n%s", name, err, out)
	}
	return bin
}

// natsStreamProgram creates ("create NAME") a JetStream stream holding
// the subjects NAME.>, or removes one ("delete NAME"). It is built only
// where this build has the nats kind, hence nats.go.
const natsStreamProgram = `package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	name := os.Args[2]
	if os.Args[1] == "create" {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}})
	} else {
		err = js.DeleteStream(ctx, name)
	}
	if err != nil {
		log.Fatal(err)
	}
}
`

// kfakeProgram runs an in-process Kafka cluster with the topic its
// argument names, prints its address and runs until its stdin closes.
const kfakeProgram = `package main

import (
	"fmt"
	"io"
	"log"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, os.Args[1]))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.ListenAddrs()[0])
	_, _ = io.Copy(io.Discard, os.Stdin)
}
`

// needBroker skips a test whose broker is not running on loopback, or
// fails it in CI (HERALD_CI set), where every broker must be there.
func needBroker(t *testing.T, name, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("HERALD_CI") != "" {
			t.Fatalf("%s is not running on %s: %v", name, addr, err)
		}
		t.Skipf("%s is not running on %s: %v", name, addr, err)
	}
	c.Close()
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// waitFor polls cond until it holds or d has passed.
func waitFor(cond func() bool, d time.Duration) {
	end := time.Now().Add(d)
	for !cond() && time.Now().Before(end) {
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer a process writes to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
