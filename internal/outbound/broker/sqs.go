package broker

// Amazon SQS (aws_sqs) destinations.
//
// What a consumer receives: one SQS message per delivery, sent with
// SendMessage to destination.queue_url.
//   - The message body is the delivery's body, unchanged (SQS carries text:
//     a body that is not valid UTF-8, or holds characters XML does not
//     allow, is refused before sending, error kind "rejected").
//   - Message attributes, all of data type String: webhook-id,
//     webhook-timestamp, webhook-signature, content-type, then the
//     endpoint's own headers, each under its header name (lower case) with
//     its value unchanged. SQS allows at most 10 attributes per message,
//     names of [A-Za-z0-9_.-], at most 256 characters, not starting with
//     "aws." or "amazon." and without ".." or a leading or trailing ".",
//     and no empty values: so an endpoint may add at most 6 headers of its
//     own, with names SQS accepts (CheckSQSAttributes says whether a set of
//     headers fits; a delivery whose headers do not is "rejected").
//   - FIFO queues (name ending ".fifo"): MessageGroupId is
//     destination.message_group_id (template, required) and
//     MessageDeduplicationId is destination.deduplication_id (template) or,
//     when empty, the webhook-id, so a retried delivery is dropped by SQS
//     within its five-minute deduplication window.
//
// The acknowledgement is SendMessage's answer: the history records
// "message id <MessageId>" (and " seq <SequenceNumber>" for FIFO queues).
// The SDK checks the MD5 digests SQS returns for the body and attributes,
// so an answer for a different message is an error, not an ack.
//
// Delivery is at least once: a SendMessage whose answer is lost (timeout,
// connection cut after the request was sent) is reported as failed and
// retried, and the queue may then hold the message twice on a standard
// queue; consumers drop duplicates by webhook-id (FIFO queues do it by the
// deduplication id).
//
// The SDK's own retries are off: Herald's retry schedule owns retries.
// Requests go to the queue URL's host, or to destination.endpoint when set
// (a compatible server: it must speak SQS's JSON protocol, which the AWS
// SDKs use since 2023).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/shape"
)

// SQSMaxAttributes is how many message attributes SQS takes on one
// message.
const SQSMaxAttributes = 10

// sqsOptions are applied to every SQS client made; tests use it to speak
// to a compatible server in its protocol.
var sqsOptions []func(*sqs.Options)

// SQS returns the aws_sqs kind: messages sent to an Amazon SQS queue (or a
// compatible server at destination.endpoint) with aws-sdk-go-v2.
func SQS() outbound.Kind { return sqsKind{} }

type sqsKind struct{}

func (sqsKind) Name() string { return herald.KindAWSSQS }

var (
	sqsQueueName   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	sqsAccount     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	sqsRegion      = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)
	sqsRegionHost  = regexp.MustCompile(`^sqs(?:-fips)?\.([a-z]{2,}(?:-[a-z0-9]+)+)\.amazonaws\.com(?:\.cn)?$`)
	sqsKeyID       = regexp.MustCompile(`^[A-Za-z0-9]{16,128}$`)
	sqsAttrName    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)
	sqsFIFOIDChars = regexp.MustCompile("^[A-Za-z0-9!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]{1,128}$")
)

// sqsQueue is a queue URL taken apart.
type sqsQueue struct {
	u    *url.URL
	fifo bool
}

// parseSQSQueue checks a queue URL: http(s)://host/ACCOUNT/NAME.
func parseSQSQueue(raw string) (*sqsQueue, error) {
	const field = "destination.queue_url"
	if raw == "" {
		return nil, &shape.FieldError{Field: field, Msg: "queue_url is required for aws_sqs destinations"}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &shape.FieldError{Field: field, Msg: "queue_url is not a URL: " + err.Error()}
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, &shape.FieldError{Field: field, Msg: "queue_url must start with https:// (or http:// for a local compatible server)"}
	}
	if u.Hostname() == "" {
		return nil, &shape.FieldError{Field: field, Msg: "queue_url has no host"}
	}
	if u.User != nil {
		return nil, &shape.FieldError{Field: field, Msg: "queue_url must not carry credentials; use access_key_id and secret_access_key"}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, &shape.FieldError{Field: field, Msg: "queue_url must not have a query or a fragment"}
	}
	if err := sqsCheckPort(u.Port()); err != nil {
		return nil, &shape.FieldError{Field: field, Msg: "queue_url " + err.Error()}
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 2 || !sqsAccount.MatchString(parts[0]) {
		return nil, &shape.FieldError{Field: field, Msg: "queue_url must be https://HOST/ACCOUNT_ID/QUEUE_NAME"}
	}
	if h := strings.ToLower(u.Hostname()); (strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn")) && !sqsRegionHost.MatchString(h) {
		return nil, &shape.FieldError{Field: field, Msg: "queue_url must use the https://sqs.REGION.amazonaws.com/ACCOUNT_ID/QUEUE_NAME form (legacy queue hosts are not supported)"}
	}
	name := parts[1]
	base, fifo := strings.CutSuffix(name, ".fifo")
	if len(name) > 80 || !sqsQueueName.MatchString(base) {
		return nil, &shape.FieldError{Field: field, Msg: fmt.Sprintf("queue name %q is not a valid SQS queue name (1 to 80 letters, digits, - and _, with .fifo for a FIFO queue)", name)}
	}
	return &sqsQueue{u: u, fifo: fifo}, nil
}

func sqsCheckPort(p string) error {
	if p == "" {
		return nil
	}
	var n int
	if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != p {
		return fmt.Errorf("has an invalid port %q", p)
	}
	return nil
}

// parseSQSEndpoint checks destination.endpoint: http(s)://host[:port].
func parseSQSEndpoint(raw string) (*url.URL, error) {
	const field = "destination.endpoint"
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &shape.FieldError{Field: field, Msg: "endpoint is not a URL: " + err.Error()}
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, &shape.FieldError{Field: field, Msg: "endpoint must be http://host:port or https://host:port"}
	}
	if u.Hostname() == "" {
		return nil, &shape.FieldError{Field: field, Msg: "endpoint has no host"}
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return nil, &shape.FieldError{Field: field, Msg: "endpoint must be only scheme, host and port (http://host:port)"}
	}
	if err := sqsCheckPort(u.Port()); err != nil {
		return nil, &shape.FieldError{Field: field, Msg: "endpoint " + err.Error()}
	}
	return u, nil
}

// sqsRegionOf returns the region the destination names, or the one in an
// sqs.REGION.amazonaws.com queue host.
func sqsRegionOf(d *herald.Destination, q *sqsQueue) string {
	if d.Region != "" {
		return d.Region
	}
	if m := sqsRegionHost.FindStringSubmatch(strings.ToLower(q.u.Hostname())); m != nil {
		return m[1]
	}
	return ""
}

func sqsHasTags(s string) bool { return strings.Contains(s, "{{") || strings.Contains(s, "#{") }

func (sqsKind) Check(d *herald.Destination) error {
	if d == nil {
		return &shape.FieldError{Field: "destination", Msg: "destination is required for aws_sqs endpoints"}
	}
	if err := refuseOthers(d, herald.KindAWSSQS, "queue_url", "region", "access_key_id", "secret_access_key", "message_group_id", "deduplication_id", "endpoint"); err != nil {
		return err
	}
	q, err := parseSQSQueue(d.QueueURL)
	if err != nil {
		return err
	}
	if d.Region != "" && !sqsRegion.MatchString(d.Region) {
		return &shape.FieldError{Field: "destination.region", Msg: fmt.Sprintf("region %q is not an AWS region name (like eu-west-1)", d.Region)}
	}
	if sqsRegionOf(d, q) == "" {
		return &shape.FieldError{Field: "destination.region", Msg: "region is required unless queue_url's host is sqs.REGION.amazonaws.com"}
	}
	if d.AccessKeyID == "" && d.SecretAccessKey == "" && d.Endpoint == "" {
		return &shape.FieldError{Field: "destination.access_key_id", Msg: "access_key_id and secret_access_key are required (the installation's own AWS credentials are not lent to endpoints)"}
	}
	if (d.AccessKeyID == "") != (d.SecretAccessKey == "") {
		if d.AccessKeyID == "" {
			return &shape.FieldError{Field: "destination.access_key_id", Msg: "access_key_id is required with secret_access_key"}
		}
		return &shape.FieldError{Field: "destination.secret_access_key", Msg: "secret_access_key is required with access_key_id"}
	}
	if d.AccessKeyID != "" && !sqsKeyID.MatchString(d.AccessKeyID) {
		return &shape.FieldError{Field: "destination.access_key_id", Msg: "access_key_id must be 16 to 128 letters and digits"}
	}
	if len(d.SecretAccessKey) > 256 || strings.ContainsAny(d.SecretAccessKey, " \t\r\n") {
		return &shape.FieldError{Field: "destination.secret_access_key", Msg: "secret_access_key must be at most 256 characters without spaces"}
	}
	for _, f := range []struct{ name, v string }{{"message_group_id", d.MessageGroupID}, {"deduplication_id", d.DeduplicationID}} {
		field := "destination." + f.name
		if f.v == "" {
			continue
		}
		if !q.fifo {
			return &shape.FieldError{Field: field, Msg: f.name + " applies only to FIFO queues (queue name ending .fifo)"}
		}
		if len(f.v) > 1024 {
			return &shape.FieldError{Field: field, Msg: f.name + " is too long"}
		}
		if !sqsHasTags(f.v) && !sqsFIFOIDChars.MatchString(f.v) {
			return &shape.FieldError{Field: field, Msg: f.name + " must be 1 to 128 letters, digits and punctuation"}
		}
	}
	if q.fifo && d.MessageGroupID == "" {
		return &shape.FieldError{Field: "destination.message_group_id", Msg: "message_group_id is required for FIFO queues (e.g. {{payload.customer_id}})"}
	}
	if d.Endpoint != "" {
		if _, err := parseSQSEndpoint(d.Endpoint); err != nil {
			return err
		}
	}
	return nil
}

func sqsHostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func (sqsKind) Hosts(d *herald.Destination) []string {
	if d == nil {
		return nil
	}
	if d.Endpoint != "" {
		if u, err := parseSQSEndpoint(d.Endpoint); err == nil {
			return []string{sqsHostPort(u)}
		}
		return nil
	}
	if q, err := parseSQSQueue(d.QueueURL); err == nil {
		return []string{sqsHostPort(q.u)}
	}
	return nil
}

func (k sqsKind) Open(ctx context.Context, d *herald.Destination, env outbound.Env) (outbound.Client, error) {
	if err := k.Check(d); err != nil {
		return nil, err
	}
	q, _ := parseSQSQueue(d.QueueURL)
	hc := env.HTTP
	if hc == nil {
		return nil, errors.New("aws_sqs: no HTTP client to send with")
	}
	opts := sqs.Options{
		Region:     sqsRegionOf(d, q),
		HTTPClient: hc,
		Retryer:    aws.NopRetryer{},
	}
	if d.AccessKeyID != "" {
		opts.Credentials = credentials.NewStaticCredentialsProvider(d.AccessKeyID, d.SecretAccessKey, "")
	} else {
		// Only a compatible server (endpoint set) is sent to without keys:
		// the installation's own AWS credentials are never lent to a
		// tenant's destination.
		opts.Credentials = aws.AnonymousCredentials{}
	}
	// Requests go to the queue URL's own host (or the endpoint given), so
	// that what Hosts reports is what is dialed.
	base := q.u
	if d.Endpoint != "" {
		base, _ = parseSQSEndpoint(d.Endpoint)
	}
	opts.BaseEndpoint = aws.String(base.Scheme + "://" + base.Host)
	timeout := env.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	dest := *d
	return &sqsClient{
		api:     sqs.New(opts, sqsOptions...),
		http:    hc,
		queue:   d.QueueURL,
		fifo:    q.fifo,
		dest:    &dest,
		timeout: timeout,
	}, nil
}

type sqsClient struct {
	api     *sqs.Client
	http    *http.Client
	queue   string
	fifo    bool
	dest    *herald.Destination
	timeout time.Duration

	mu     sync.RWMutex
	closed bool
}

// errSQSClosed is Publish's error after Close.
var errSQSClosed = errors.New("aws_sqs: client is closed")

// CheckSQSAttributes reports whether headers fit in one SQS message's
// attributes: at most SQSMaxAttributes, names SQS accepts, each once, no
// empty or non-XML values. The error says which header and why; the API
// can use it to refuse an endpoint's headers on save (with the four
// Standard Webhooks and content-type headers counted in).
func CheckSQSAttributes(headers []outbound.Header) error {
	if len(headers) > SQSMaxAttributes {
		return fmt.Errorf("SQS takes at most %d message attributes, and this message has %d headers (webhook-id, webhook-timestamp, webhook-signature, content-type and %d of the endpoint's)", SQSMaxAttributes, len(headers), len(headers)-4)
	}
	seen := make(map[string]bool, len(headers))
	for _, h := range headers {
		if err := checkSQSAttributeName(h.Name); err != nil {
			return err
		}
		if seen[h.Name] {
			return fmt.Errorf("header %q appears twice; SQS message attribute names must be unique", h.Name)
		}
		seen[h.Name] = true
		if h.Value == "" {
			return fmt.Errorf("header %q is empty; SQS refuses empty message attribute values", h.Name)
		}
		if !validSQSText(h.Value) {
			return fmt.Errorf("header %q holds characters SQS does not accept (invalid UTF-8 or not allowed in XML)", h.Name)
		}
	}
	return nil
}

func checkSQSAttributeName(name string) error {
	lower := strings.ToLower(name)
	switch {
	case !sqsAttrName.MatchString(name):
		return fmt.Errorf("header name %q is not a valid SQS message attribute name (1 to 256 of A-Z a-z 0-9 _ - .)", name)
	case strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon."):
		return fmt.Errorf("header name %q starts with aws. or amazon., which SQS reserves", name)
	case strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, ".."):
		return fmt.Errorf("header name %q starts or ends with a period or has two in a row, which SQS refuses", name)
	}
	return nil
}

// validSQSText reports whether s is UTF-8 made only of the characters SQS
// (and XML 1.0) allow: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
// #x10000-#x10FFFF.
func validSQSText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

func (c *sqsClient) Publish(ctx context.Context, m *outbound.Message) (string, error) {
	c.mu.RLock()
	closed := c.closed
	c.mu.RUnlock()
	if closed {
		return "", errSQSClosed
	}
	if m == nil {
		return "", outbound.Fail(herald.ErrorKindRender, errors.New("aws_sqs: no message"))
	}
	d := m.Dest
	if d == nil {
		d = c.dest
	}
	body := string(m.Body)
	if len(body) == 0 {
		return "", outbound.Fail(herald.ErrorKindRejected, errors.New("aws_sqs: SQS refuses an empty message body"))
	}
	if !validSQSText(body) {
		return "", outbound.Fail(herald.ErrorKindRejected, errors.New("aws_sqs: the body is not text SQS accepts (invalid UTF-8, or characters XML does not allow); send JSON or text, or base64-encode binary payloads"))
	}
	if err := CheckSQSAttributes(m.Headers); err != nil {
		return "", outbound.Fail(herald.ErrorKindRejected, fmt.Errorf("aws_sqs: %w", err))
	}
	attrs := make(map[string]types.MessageAttributeValue, len(m.Headers))
	for _, h := range m.Headers {
		attrs[h.Name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(h.Value)}
	}
	in := &sqs.SendMessageInput{
		QueueUrl:          aws.String(c.queue),
		MessageBody:       aws.String(body),
		MessageAttributes: attrs,
	}
	if c.fifo {
		group := d.MessageGroupID
		if !sqsFIFOIDChars.MatchString(group) {
			return "", outbound.Fail(herald.ErrorKindRender, fmt.Errorf("aws_sqs: message_group_id rendered as %q, which is not 1 to 128 letters, digits and punctuation", sqsClip(group)))
		}
		dedup := d.DeduplicationID
		if dedup == "" {
			dedup = m.ID
		}
		if !sqsFIFOIDChars.MatchString(dedup) {
			return "", outbound.Fail(herald.ErrorKindRender, fmt.Errorf("aws_sqs: deduplication id %q is not 1 to 128 letters, digits and punctuation", sqsClip(dedup)))
		}
		in.MessageGroupId = aws.String(group)
		in.MessageDeduplicationId = aws.String(dedup)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	out, err := c.api.SendMessage(ctx, in)
	if err != nil {
		return "", sqsError(err)
	}
	if out.MessageId == nil || *out.MessageId == "" {
		return "", outbound.Fail(herald.ErrorKindRejected, errors.New("aws_sqs: SendMessage answered without a message id"))
	}
	ack := "message id " + *out.MessageId
	if out.SequenceNumber != nil && *out.SequenceNumber != "" {
		ack += " seq " + *out.SequenceNumber
	}
	return ack, nil
}

// sqsClip shortens a rendered value quoted in an error, which a tenant's
// template may make long.
func sqsClip(s string) string {
	if len(s) <= 140 {
		return s
	}
	return strings.ToValidUTF8(s[:140], "") + "..."
}

// sqsAuthCodes are the error codes of a refused login or signature.
var sqsAuthCodes = map[string]bool{
	"InvalidClientTokenId":        true,
	"SignatureDoesNotMatch":       true,
	"AccessDenied":                true,
	"AccessDeniedException":       true,
	"UnrecognizedClientException": true,
	"InvalidSecurity":             true,
	"IncompleteSignature":         true,
	"MissingAuthenticationToken":  true,
	"ExpiredToken":                true,
	"KMS.AccessDeniedException":   true,
}

// sqsError gives a SendMessage error its error kind: an answer from SQS is
// auth (credentials or signature refused) or rejected (anything else it
// refused, throttling and server errors included: no message id, no
// delivery); credentials that could not be had are auth; no answer in
// time is timeout; no answer at all is classified from the network error
// it wraps (connect, network, ...).
func sqsError(err error) error {
	err = fmt.Errorf("aws_sqs: %w", err)
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		if sqsAuthCodes[ae.ErrorCode()] {
			return outbound.Fail(herald.ErrorKindAuth, err)
		}
		return outbound.Fail(herald.ErrorKindRejected, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return outbound.Fail(herald.ErrorKindTimeout, err)
	}
	if isCredentialError(err) {
		return outbound.Fail(herald.ErrorKindAuth, err)
	}
	if strings.Contains(err.Error(), "checksum validation failed") {
		// SQS answered, but for a body or attributes other than those sent:
		// not an acknowledgement of this message.
		return outbound.Fail(herald.ErrorKindRejected, err)
	}
	return err
}

// isCredentialError reports whether getting the credentials (not sending)
// failed, as the SDK words it.
func isCredentialError(err error) bool {
	return strings.Contains(err.Error(), "failed to retrieve credentials") || strings.Contains(err.Error(), "failed to refresh cached credentials")
}

// Close marks the client closed and drops the idle connections of its
// HTTP client (SQS holds no other state; requests still in flight finish).
func (c *sqsClient) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.http.CloseIdleConnections()
	return nil
}
