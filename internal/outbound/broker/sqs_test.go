package broker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goawsapp "github.com/Admiral-Piett/goaws/app"
	goawsrouter "github.com/Admiral-Piett/goaws/app/router"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	"github.com/sirupsen/logrus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
	"github.com/heraldhq/herald/internal/shape"
)

// The SQS tests run against goaws, an SQS-compatible server, in process.
// goaws v0.4.5 speaks SQS's Query protocol only, while the SDK speaks the
// JSON protocol by default; real SQS accepts both, so the clients under
// test are switched to the SDK's own Query protocol implementation (same
// operations, same error codes). What the tests do not cover is the JSON
// wire encoding itself, which is the SDK's.
var sqsQueryOnce sync.Once

func useSQSQuery() {
	sqsQueryOnce.Do(func() {
		// goaws leaves SenderId empty without an account, which the
		// SDK's XML decoder refuses.
		goawsapp.CurrentEnvironment.AccountID = "000000000000"
		// Deduplication of FIFO messages, as SQS does it (off in goaws
		// unless asked).
		goawsapp.CurrentEnvironment.EnableDuplicates = true
		// goaws logs every request at info level.
		logrus.SetLevel(logrus.WarnLevel)
		sqsOptions = append(sqsOptions, func(o *sqs.Options) { o.Protocol = awsquery.New(schemas.AmazonSQS) })
	})
}

const (
	sqsTestKey    = "AKIAHERALDTEST000001"
	sqsTestSecret = "herald-test-secret"
)

// sqsServer is goaws behind an httptest server. goaws checks no
// credentials, so with checkKey the server in front of it refuses requests
// signed with another access key than sqsTestKey, with SQS's own error
// (InvalidClientTokenId, 403) in the Query protocol's XML.
type sqsServer struct {
	*httptest.Server
	api *sqs.Client
}

var sqsCredential = regexp.MustCompile(`Credential=([^/,\s]+)/`)

func newSQSServer(t *testing.T, checkKey bool) *sqsServer {
	t.Helper()
	useSQSQuery()
	h := goawsrouter.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if checkKey {
			m := sqsCredential.FindStringSubmatch(r.Header.Get("Authorization"))
			if m == nil || m[1] != sqsTestKey {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message><Detail/></Error><RequestId>0</RequestId></ErrorResponse>`)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	api := sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(sqsTestKey, sqsTestSecret, ""),
	}, sqsOptions...)
	return &sqsServer{Server: srv, api: api}
}

// queue creates a queue named after the test and returns its URL.
func (s *sqsServer) queue(t *testing.T, fifo bool) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()), rand.IntN(1e9))
	if len(name) > 70 {
		name = name[len(name)-70:]
	}
	in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
	if fifo {
		name += ".fifo"
		in.QueueName = aws.String(name)
		in.Attributes = map[string]string{"FifoQueue": "true"}
	}
	ctx := testCtx(t)
	if _, err := s.api.CreateQueue(ctx, in); err != nil {
		t.Fatalf("create queue: %v", err)
	}
	url := s.URL + "/000000000000/" + name
	t.Cleanup(func() { s.api.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}) })
	return url
}

// receive reads messages from the queue, one at a time, until it has n
// or 20 s have passed, deleting each. (One at a time: goaws hides a FIFO
// group's next message when a batch receive skips it.)
func (s *sqsServer) receive(t *testing.T, queueURL string, n int) []types.Message {
	t.Helper()
	ctx := testCtx(t)
	var got []types.Message
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d messages of %d", len(got), n)
		}
		out, err := s.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 1, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range out.Messages {
			got = append(got, m)
			if _, err := s.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
		if len(out.Messages) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return got
}

// count is how many messages the queue holds now.
func (s *sqsServer) count(t *testing.T, queueURL string) string {
	t.Helper()
	out, err := s.api.GetQueueAttributes(testCtx(t), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	return out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)]
}

func sqsDest(s *sqsServer, queueURL string) *herald.Destination {
	// Endpoint is the queue URL's own host here; set, it is what a
	// destination whose queue URL names another host uses.
	return &herald.Destination{QueueURL: queueURL, Region: "us-east-1", AccessKeyID: sqsTestKey, SecretAccessKey: sqsTestSecret, Endpoint: s.URL}
}

func openSQS(t *testing.T, d *herald.Destination) outbound.Client {
	t.Helper()
	c, err := SQS().Open(testCtx(t), d, testEnv())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sqsMessage(d *herald.Destination, id, body string, extra ...outbound.Header) *outbound.Message {
	h := []outbound.Header{
		{Name: "webhook-id", Value: id},
		{Name: "webhook-timestamp", Value: "1764876000"},
		{Name: "webhook-signature", Value: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
		{Name: "content-type", Value: "application/json"},
	}
	return &outbound.Message{Dest: d, ID: id, Headers: append(h, extra...), Body: []byte(body)}
}

func attr(m types.Message, name string) string {
	a, ok := m.MessageAttributes[name]
	if !ok || a.StringValue == nil {
		return "<missing>"
	}
	if a.DataType == nil || *a.DataType != "String" {
		return "<not a String>"
	}
	return *a.StringValue
}

func TestSQSCheck(t *testing.T) {
	const q = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders"
	const fq = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders.fifo"
	cases := []struct {
		name  string
		d     herald.Destination
		field string // "" when good
	}{
		{"plain", herald.Destination{QueueURL: q}, ""},
		{"no keys", herald.Destination{QueueURL: q}, "destination.access_key_id"},
		{"region given", herald.Destination{QueueURL: "http://localhost:4100/000000000000/orders", Region: "us-east-1"}, ""},
		{"keys", herald.Destination{QueueURL: q, AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, ""},
		{"fifo", herald.Destination{QueueURL: fq, MessageGroupID: "{{payload.customer_id}}"}, ""},
		{"fifo fixed ids", herald.Destination{QueueURL: fq, MessageGroupID: "all", DeduplicationID: "#{id}"}, ""},
		{"endpoint", herald.Destination{QueueURL: "http://goaws:4100/000000000000/orders", Region: "us-east-1", Endpoint: "http://goaws:4100"}, ""},
		{"missing queue", herald.Destination{Region: "us-east-1"}, "destination.queue_url"},
		{"queue scheme", herald.Destination{QueueURL: "sqs://x/1/orders", Region: "us-east-1"}, "destination.queue_url"},
		{"queue path", herald.Destination{QueueURL: "https://sqs.eu-west-1.amazonaws.com/orders"}, "destination.queue_url"},
		{"queue name", herald.Destination{QueueURL: "https://sqs.eu-west-1.amazonaws.com/1/or ders"}, "destination.queue_url"},
		{"queue creds", herald.Destination{QueueURL: "https://a:b@sqs.eu-west-1.amazonaws.com/1/orders"}, "destination.queue_url"},
		{"queue port", herald.Destination{QueueURL: "https://sqs.eu-west-1.amazonaws.com:99999/1/orders"}, "destination.queue_url"},
		{"legacy host", herald.Destination{QueueURL: "https://eu-west-1.queue.amazonaws.com/1/orders", Region: "eu-west-1"}, "destination.queue_url"},
		{"no region", herald.Destination{QueueURL: "https://queue.example.com/1/orders"}, "destination.region"},
		{"bad region", herald.Destination{QueueURL: q, Region: "EU WEST"}, "destination.region"},
		{"key without secret", herald.Destination{QueueURL: q, AccessKeyID: "AKIAIOSFODNN7EXAMPLE"}, "destination.secret_access_key"},
		{"secret without key", herald.Destination{QueueURL: q, SecretAccessKey: "x"}, "destination.access_key_id"},
		{"bad key", herald.Destination{QueueURL: q, AccessKeyID: "a b", SecretAccessKey: "x"}, "destination.access_key_id"},
		{"fifo without group", herald.Destination{QueueURL: fq}, "destination.message_group_id"},
		{"group on standard", herald.Destination{QueueURL: q, MessageGroupID: "g"}, "destination.message_group_id"},
		{"dedup on standard", herald.Destination{QueueURL: q, DeduplicationID: "d"}, "destination.deduplication_id"},
		{"bad group", herald.Destination{QueueURL: fq, MessageGroupID: "a group"}, "destination.message_group_id"},
		{"endpoint scheme", herald.Destination{QueueURL: q, Endpoint: "tcp://x:1"}, "destination.endpoint"},
		{"endpoint path", herald.Destination{QueueURL: q, Endpoint: "http://x:1/api"}, "destination.endpoint"},
		{"url", herald.Destination{QueueURL: q, URL: "nats://x"}, "destination.url"},
		{"brokers", herald.Destination{QueueURL: q, Brokers: []string{"x:9092"}}, "destination.brokers"},
		{"topic", herald.Destination{QueueURL: q, Topic: "t"}, "destination.topic"},
		{"password", herald.Destination{QueueURL: q, Password: "p"}, "destination.password"},
		{"credentials_json", herald.Destination{QueueURL: q, CredentialsJSON: "{}"}, "destination.credentials_json"},
		{"tls", herald.Destination{QueueURL: q, TLS: true}, "destination.tls"},
		{"max_len", herald.Destination{QueueURL: q, MaxLen: 5}, "destination.max_len"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.d
			if d.AccessKeyID == "" && d.SecretAccessKey == "" && c.name != "no keys" {
				d.AccessKeyID, d.SecretAccessKey = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
			}
			err := SQS().Check(&d)
			if c.field == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			fe, ok := errors.AsType[*shape.FieldError](err)
			if !ok {
				t.Fatalf("Check: %v (%T), want a field error on %s", err, err, c.field)
			}
			if fe.Field != c.field {
				t.Fatalf("Check names %s (%s), want %s", fe.Field, fe.Msg, c.field)
			}
		})
	}
	if err := SQS().Check(nil); err == nil {
		t.Fatal("Check(nil) passed")
	}
	if SQS().Name() != herald.KindAWSSQS {
		t.Fatalf("Name %q", SQS().Name())
	}
}

func TestSQSHosts(t *testing.T) {
	for _, c := range []struct {
		d    herald.Destination
		want string
	}{
		{herald.Destination{QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/orders"}, "sqs.eu-west-1.amazonaws.com:443"},
		{herald.Destination{QueueURL: "http://q.example:4100/1/orders"}, "q.example:4100"},
		{herald.Destination{QueueURL: "http://q.example/1/orders"}, "q.example:80"},
		{herald.Destination{QueueURL: "https://sqs.eu-west-1.amazonaws.com/1/orders", Endpoint: "http://127.0.0.1:4100"}, "127.0.0.1:4100"},
	} {
		got := SQS().Hosts(&c.d)
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("Hosts(%+v) = %v, want %s", c.d, got, c.want)
		}
	}
}

func TestSQSCheckAttributes(t *testing.T) {
	base := sqsMessage(nil, "msg_1", "{}").Headers
	if err := CheckSQSAttributes(base); err != nil {
		t.Fatalf("the webhook headers: %v", err)
	}
	six := append([]outbound.Header(nil), base...)
	for i := range 6 {
		six = append(six, outbound.Header{Name: fmt.Sprintf("x-h%d", i), Value: "v"})
	}
	if err := CheckSQSAttributes(six); err != nil {
		t.Fatalf("10 attributes: %v", err)
	}
	for name, hs := range map[string][]outbound.Header{
		"eleven":    append(six, outbound.Header{Name: "x-h6", Value: "v"}),
		"reserved":  append(base, outbound.Header{Name: "aws.trace", Value: "v"}),
		"amazon":    append(base, outbound.Header{Name: "Amazon.x", Value: "v"}),
		"space":     append(base, outbound.Header{Name: "x h", Value: "v"}),
		"periods":   append(base, outbound.Header{Name: "x..h", Value: "v"}),
		"empty":     append(base, outbound.Header{Name: "x-h", Value: ""}),
		"duplicate": append(base, outbound.Header{Name: "webhook-id", Value: "v"}),
		"control":   append(base, outbound.Header{Name: "x-h", Value: "a\x00b"}),
	} {
		if err := CheckSQSAttributes(hs); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSQSPublishArrives(t *testing.T) {
	s := newSQSServer(t, false)
	qurl := s.queue(t, false)
	d := sqsDest(s, qurl)
	c := openSQS(t, d)
	body := `{"type":"invoice.paid","data":{"id":"in_1","note":"é ✓ 😀 <&>"}}`
	ack, err := c.Publish(testCtx(t), sqsMessage(d, "msg_arrives", body, outbound.Header{Name: "x-tenant", Value: "acme corp/1"}))
	if err != nil {
		t.Fatalf("publish: %v (kind %s)", err, outbound.ErrorKindOf(err))
	}
	got := s.receive(t, qurl, 1)[0]
	if want := "message id " + aws.ToString(got.MessageId); ack != want {
		t.Errorf("ack %q, want %q", ack, want)
	}
	if aws.ToString(got.Body) != body {
		t.Errorf("body %q, want %q", aws.ToString(got.Body), body)
	}
	for name, want := range map[string]string{
		"webhook-id":        "msg_arrives",
		"webhook-timestamp": "1764876000",
		"webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
		"content-type":      "application/json",
		"x-tenant":          "acme corp/1",
	} {
		if v := attr(got, name); v != want {
			t.Errorf("attribute %s = %q, want %q", name, v, want)
		}
	}
	if len(got.MessageAttributes) != 5 {
		t.Errorf("%d attributes, want 5: %v", len(got.MessageAttributes), got.MessageAttributes)
	}
}

func TestSQSPublishFIFO(t *testing.T) {
	s := newSQSServer(t, false)
	qurl := s.queue(t, true)
	d := sqsDest(s, qurl)
	d.MessageGroupID = "{{payload.customer}}"
	if err := SQS().Check(d); err != nil {
		t.Fatalf("check: %v", err)
	}
	c := openSQS(t, d)
	rendered := *d
	rendered.MessageGroupID = "cus_1"
	ctx := testCtx(t)
	ack, err := c.Publish(ctx, sqsMessage(&rendered, "msg_fifo_1", `{"n":1}`))
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if !strings.HasPrefix(ack, "message id ") || !strings.Contains(ack, " seq ") {
		t.Errorf("ack %q, want message id and seq", ack)
	}
	// The same delivery again (a retry): SQS drops it by its
	// deduplication id, the webhook-id.
	if _, err := c.Publish(ctx, sqsMessage(&rendered, "msg_fifo_1", `{"n":1}`)); err != nil {
		t.Fatalf("publish again: %v", err)
	}
	if _, err := c.Publish(ctx, sqsMessage(&rendered, "msg_fifo_2", `{"n":2}`)); err != nil {
		t.Fatalf("publish 2: %v", err)
	}
	got := s.receive(t, qurl, 2)
	if b0, b1 := aws.ToString(got[0].Body), aws.ToString(got[1].Body); b0 != `{"n":1}` || b1 != `{"n":2}` {
		t.Errorf("bodies %s %s", b0, b1)
	}
	if n := s.count(t, qurl); n != "0" {
		t.Errorf("%s messages left after the two, want 0 (the retry was not deduplicated)", n)
	}
	// A group id that rendered empty cannot be sent.
	rendered.MessageGroupID = ""
	_, err = c.Publish(ctx, sqsMessage(&rendered, "msg_fifo_3", `{}`))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRender {
		t.Errorf("empty group id: %v, kind %q, want render", err, k)
	}
}

func TestSQSBrokerDown(t *testing.T) {
	s := newSQSServer(t, false)
	qurl := s.queue(t, false)
	p := brokertest.NewProxy(t, strings.TrimPrefix(s.URL, "http://"))
	d := sqsDest(s, qurl)
	d.Endpoint = "http://" + p.Addr()
	c := openSQS(t, d)
	ctx := testCtx(t)
	if _, err := c.Publish(ctx, sqsMessage(d, "msg_before", `{"n":0}`)); err != nil {
		t.Fatalf("publish before: %v", err)
	}
	p.Down()
	// The first publish may go out on the pooled connection the server
	// just cut (network: the write fails) or, when Go has already seen the
	// connection close, dial (connect); the next one can only dial.
	_, err := c.Publish(ctx, sqsMessage(d, "msg_down_1", `{"n":1}`))
	if k := outbound.ErrorKindOf(err); err == nil || (k != herald.ErrorKindNetwork && k != herald.ErrorKindConnect) {
		t.Fatalf("down, first: %v, kind %q, want network or connect", err, k)
	}
	_, err = c.Publish(ctx, sqsMessage(d, "msg_down_2", `{"n":1}`))
	if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindConnect {
		t.Fatalf("down, second: %v, kind %q, want connect", err, k)
	}
	p.Up()
	if _, err := c.Publish(ctx, sqsMessage(d, "msg_after", `{"n":2}`)); err != nil {
		t.Fatalf("publish after up, same client: %v (kind %s)", err, outbound.ErrorKindOf(err))
	}
	got := s.receive(t, qurl, 2)
	ids := []string{attr(got[0], "webhook-id"), attr(got[1], "webhook-id")}
	if ids[0] != "msg_before" || ids[1] != "msg_after" {
		t.Errorf("received %v, want msg_before and msg_after", ids)
	}
	if n := s.count(t, qurl); n != "0" {
		t.Errorf("%s more messages in the queue; the failed publish arrived", n)
	}
}

func TestSQSNotAcknowledged(t *testing.T) {
	s := newSQSServer(t, false)
	ctx := testCtx(t)

	// No such queue: SQS answers with an error, not a message id.
	d := sqsDest(s, s.URL+"/000000000000/herald-missing-queue")
	c := openSQS(t, d)
	ack, err := c.Publish(ctx, sqsMessage(d, "msg_noqueue", `{}`))
	if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindRejected {
		t.Fatalf("missing queue: ack %q, err %v, kind %q, want rejected", ack, err, k)
	}

	// A server that answers 200 for another message (its MD5 does not
	// match what was sent) has not acknowledged this one.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><SendMessageResult><MD5OfMessageBody>00000000000000000000000000000000</MD5OfMessageBody><MessageId>m-1</MessageId></SendMessageResult><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></SendMessageResponse>`)
	}))
	defer liar.Close()
	d2 := &herald.Destination{QueueURL: liar.URL + "/000000000000/q", Region: "us-east-1", AccessKeyID: sqsTestKey, SecretAccessKey: sqsTestSecret, Endpoint: liar.URL}
	c2 := openSQS(t, d2)
	ack, err = c2.Publish(ctx, &outbound.Message{Dest: d2, ID: "msg_liar", Body: []byte(`{}`)})
	if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindRejected {
		t.Fatalf("wrong checksum: ack %q, err %v, kind %q, want rejected", ack, err, k)
	}

	// A body SQS cannot carry, or too many attributes, is refused before
	// sending.
	qurl := s.queue(t, false)
	d3 := sqsDest(s, qurl)
	c3 := openSQS(t, d3)
	many := make([]outbound.Header, 7)
	for i := range many {
		many[i] = outbound.Header{Name: fmt.Sprintf("x-h%d", i), Value: "v"}
	}
	for name, m := range map[string]*outbound.Message{
		"not utf-8":       sqsMessage(d3, "msg_bin", "\xff\xfe binary"),
		"nul":             sqsMessage(d3, "msg_nul", "a\x00b"),
		"11 attributes":   sqsMessage(d3, "msg_many", `{}`, many...),
		"reserved header": sqsMessage(d3, "msg_aws", `{}`, outbound.Header{Name: "aws.x", Value: "v"}),
	} {
		_, err := c3.Publish(ctx, m)
		if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindRejected {
			t.Errorf("%s: err %v, kind %q, want rejected", name, err, k)
		}
	}
	if n := s.count(t, qurl); n != "0" {
		t.Errorf("%s refused messages reached the queue", n)
	}
}

func TestSQSAuth(t *testing.T) {
	s := newSQSServer(t, true)
	qurl := s.queue(t, false)
	d := sqsDest(s, qurl)
	d.AccessKeyID = "AKIAWRONGWRONGWRONG1"
	c := openSQS(t, d)
	_, err := c.Publish(testCtx(t), sqsMessage(d, "msg_auth", `{}`))
	if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindAuth {
		t.Fatalf("wrong key: %v, kind %q, want auth", err, k)
	}
	ok := openSQS(t, sqsDest(s, qurl))
	if _, err := ok.Publish(testCtx(t), sqsMessage(d, "msg_auth_ok", `{}`)); err != nil {
		t.Fatalf("right key: %v", err)
	}
}

func TestSQSConcurrent(t *testing.T) {
	s := newSQSServer(t, false)
	qurl := s.queue(t, false)
	d := sqsDest(s, qurl)
	c := openSQS(t, d)
	ctx := testCtx(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := c.Publish(ctx, sqsMessage(d, fmt.Sprintf("msg_%02d", i), fmt.Sprintf(`{"i":%d}`, i))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("publish: %v", err)
	}
	seen := map[string]bool{}
	for _, m := range s.receive(t, qurl, n) {
		seen[attr(m, "webhook-id")] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages arrived, want %d", len(seen), n)
	}
}

func TestSQSClose(t *testing.T) {
	s := newSQSServer(t, false)
	qurl := s.queue(t, false)
	d := sqsDest(s, qurl)
	c := openSQS(t, d)
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if ack, err := c.Publish(testCtx(t), sqsMessage(d, "msg_closed", `{}`)); err == nil {
		t.Fatalf("publish after close: ack %q", ack)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestSQSAckTimeout(t *testing.T) {
	// A server that takes the request and never answers.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	d := &herald.Destination{QueueURL: slow.URL + "/000000000000/q", Region: "us-east-1", AccessKeyID: sqsTestKey, SecretAccessKey: sqsTestSecret, Endpoint: slow.URL}
	c := openSQS(t, d)
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	ack, err := c.Publish(ctx, sqsMessage(d, "msg_slow", `{}`))
	if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindTimeout {
		t.Fatalf("no answer: ack %q, err %v, kind %q, want timeout", ack, err, k)
	}
}

func TestSQSWithoutKeysNeedsEndpoint(t *testing.T) {
	// The installation's own AWS credentials are never used for a
	// tenant's queue: without keys, only a compatible server is allowed.
	s := newSQSServer(t, false)
	qurl := s.queue(t, false)
	d := sqsDest(s, qurl)
	d.AccessKeyID, d.SecretAccessKey, d.Endpoint = "", "", ""
	var fe *shape.FieldError
	if err := SQS().Check(d); !errors.As(err, &fe) || fe.Field != "destination.access_key_id" {
		t.Fatalf("no keys, no endpoint: %v, want destination.access_key_id", err)
	}
}

func TestSQSQueueHostIsEndpoint(t *testing.T) {
	// Without endpoint, requests go to the queue URL's host (what Hosts
	// reports for the destination policy).
	s := newSQSServer(t, false)
	qurl := s.queue(t, false)
	d := sqsDest(s, qurl)
	d.Endpoint = ""
	if got := SQS().Hosts(d); len(got) != 1 || got[0] != strings.TrimPrefix(s.URL, "http://") {
		t.Fatalf("Hosts %v, want %s", got, s.URL)
	}
	c := openSQS(t, d)
	if _, err := c.Publish(testCtx(t), sqsMessage(d, "msg_queue_host", `{}`)); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if got := s.receive(t, qurl, 1); attr(got[0], "webhook-id") != "msg_queue_host" {
		t.Fatalf("received %v", got[0].MessageAttributes)
	}
}

func TestSQSDialsThroughEnv(t *testing.T) {
	// Every connection goes through env.HTTP: a policy that refuses the
	// address stops the publish with error kind policy, nothing sent.
	s := newSQSServer(t, false)
	qurl := s.queue(t, false)
	d := sqsDest(s, qurl)
	var dials atomic.Int32
	refuse := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, &netpolicy.BlockedError{Addr: netip.MustParseAddr("127.0.0.1"), Rule: "private"}
	}
	env := outbound.Env{Dial: refuse, HTTP: &http.Client{Transport: &http.Transport{DialContext: refuse}}, Timeout: 5 * time.Second}
	c, err := SQS().Open(testCtx(t), d, env)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer c.Close()
	_, err = c.Publish(testCtx(t), sqsMessage(d, "msg_policy", `{}`))
	if k := outbound.ErrorKindOf(err); err == nil || k != herald.ErrorKindPolicy {
		t.Fatalf("refused address: %v, kind %q, want policy", err, k)
	}
	if dials.Load() == 0 {
		t.Fatal("the client did not dial through env")
	}
	if n := s.count(t, qurl); n != "0" {
		t.Errorf("%s messages arrived past the policy", n)
	}
}
