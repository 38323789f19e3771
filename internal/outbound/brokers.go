package outbound

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/tracing"
)

// BrokerOptions configure the broker destinations.
type BrokerOptions struct {
	// Kinds are the destination kinds this build has (broker.Kinds()).
	Kinds []Kind
	// Env is what their clients dial with; a zero Timeout is 10 s.
	Env Env
	// MaxClients bounds the open clients, one per endpoint version: past
	// it, the least recently used is closed. Default 1,000.
	MaxClients int
	// IdleAfter closes a client unused this long; default 10 minutes.
	IdleAfter time.Duration
	// Logger hears of clients that failed to close; nil: discarded.
	Logger *slog.Logger
}

// Defaults of BrokerOptions.
const (
	DefaultMaxClients = 1_000
	DefaultIdleAfter  = 10 * time.Minute
	defaultKindDial   = 10 * time.Second
)

// PublishMethod is the method an attempt on a broker endpoint records.
const PublishMethod = "PUBLISH"

// Brokers delivers to broker endpoints (herald.BrokerKinds): it builds the
// message exactly as the endpoint's HTTP request would be built (body,
// Standard Webhooks signature, headers), fills in the destination's
// template fields, and publishes it through a pooled client of the
// endpoint's kind. It is safe for concurrent use; share one, and Close it
// at shutdown.
type Brokers struct {
	build *builder
	now   func() time.Time
	kinds map[string]Kind
	env   Env
	log   *slog.Logger
	max   int
	idle  time.Duration

	mu sync.Mutex
	// clients holds the pooled clients by key (clientKey); lru orders
	// them, most recently used first; byEndpoint finds an endpoint's.
	clients    map[string]*pooled
	lru        *list.List
	byEndpoint map[string][]*pooled
	closed     bool
	stop       chan struct{}
	done       chan struct{}
}

// pooled is one endpoint version's client.
type pooled struct {
	key      string
	endpoint string
	updated  time.Time
	// ready is closed once Open returned: client or err is then set.
	ready  chan struct{}
	client Client
	err    error
	// users counts the publishes using the client: a client retired
	// (evicted, forgotten, replaced) is closed when the last one ends.
	users    int
	retired  bool
	lastUsed time.Time
	elem     *list.Element
}

// NewBrokers returns the broker destinations, building messages with h's
// builder (its caches of shapes and signers are shared).
func NewBrokers(h *HTTP, o BrokerOptions) *Brokers {
	if o.Env.Timeout <= 0 {
		o.Env.Timeout = defaultKindDial
	}
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.IdleAfter <= 0 {
		o.IdleAfter = DefaultIdleAfter
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Brokers{build: h.build, now: h.now, kinds: map[string]Kind{}, env: o.Env, log: o.Logger,
		max: o.MaxClients, idle: o.IdleAfter,
		clients: map[string]*pooled{}, lru: list.New(), byEndpoint: map[string][]*pooled{},
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, k := range o.Kinds {
		b.kinds[k.Name()] = k
	}
	go b.sweep()
	return b
}

// Kind returns the destination kind of that name, nil when this build has
// none.
func (b *Brokers) Kind(name string) Kind { return b.kinds[name] }

// errClosed is a publish after Close.
var errClosed = errors.New("broker destinations are shut down")

// Send makes one attempt of a delivery to a broker endpoint.
func (b *Brokers) Send(ctx context.Context, d *Delivery) Outcome {
	ep := d.Endpoint
	kind := b.kinds[ep.Kind]
	if kind == nil {
		return Outcome{Kind: herald.ErrorKindPolicy, Error: fmt.Sprintf("destination kind %q is not available in this build", ep.Kind)}
	}
	m, err := b.message(ctx, d, b.now(), true)
	if errors.Is(err, ErrCancelled) {
		return Outcome{Cancelled: true, Error: err.Error()}
	}
	if err != nil && ctx.Err() != nil {
		// Shutdown, or the caller went away, while the transformation
		// ran: the attempt never happened.
		return Outcome{Aborted: true}
	}
	if err != nil {
		// As for HTTP: the same event would fail the same way again.
		return Outcome{Kind: BuildErrorKind(err), Error: scrub(err.Error(), ep.Destination)}
	}
	o := Outcome{Request: publishRecord(ep, m)}
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, b.build.timeout(ep, d.App))
	defer cancel()
	ack, err := b.publish(pctx, ep, kind, m)
	o.Latency = time.Since(start)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			// Shutdown, or the caller went away: not the destination's
			// doing, so not an attempt.
			return Outcome{Aborted: true}
		}
		o.Kind = ErrorKindOf(err)
		if o.Kind == herald.ErrorKindNone {
			o.Kind = herald.ErrorKindNetwork
		}
		if be, ok := errors.AsType[*netpolicy.BlockedError](err); ok {
			// As for HTTP: the attempt says what kind of address it was,
			// the operator's log which.
			b.log.Warn("destination refused", "app_id", ep.AppID, "endpoint_id", ep.ID, "delivery_id", d.ID, "destination", be)
		}
		o.Error = scrub(err.Error(), ep.Destination)
		return o
	}
	// An acknowledgement counts as a 200 answer wherever statuses decide
	// (retries, stats, filters of the history).
	o.Status = http.StatusOK
	o.Response = &herald.AttemptResponse{StatusCode: http.StatusOK, Body: scrub(ack, ep.Destination), Headers: map[string]string{}}
	return o
}

// Preview builds the message an attempt would publish now, signed,
// without publishing it: Method PUBLISH, URL where it would go.
func (b *Brokers) Preview(ctx context.Context, d *Delivery) (*Request, error) {
	m, err := b.message(ctx, d, b.now(), false)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(m.Headers))
	for _, x := range m.Headers {
		h[x.Name] = []string{x.Value}
	}
	return &Request{Method: PublishMethod, URL: Describe(d.Endpoint.Kind, m.Dest), Header: h, Body: m.Body}, nil
}

// message builds one attempt's message at now; trace adds the attempt's
// span to its headers when the app asks for it, as HTTP does.
func (b *Brokers) message(ctx context.Context, d *Delivery, now time.Time, trace bool) (*Message, error) {
	if d.Endpoint.Destination == nil {
		return nil, errors.New("the endpoint has no destination")
	}
	req, dest, err := b.build.message(ctx, d, now)
	if err != nil {
		return nil, err
	}
	if dest == nil {
		return nil, errors.New("the endpoint has no destination")
	}
	if trace && d.App != nil && d.App.PropagateTraceContext {
		// Outside the signed content, as for HTTP.
		tracing.Inject(ctx, req.Header)
	}
	return &Message{Dest: dest, ID: d.ID, Headers: messageHeaders(req.Header), Body: req.Body}, nil
}

// httpOnlyHeaders mean something to HTTP alone.
var httpOnlyHeaders = map[string]bool{"user-agent": true, "content-length": true, "host": true}

// messageHeaders turns a request's headers into a message's: lower-case
// names, sorted, without those only HTTP has.
func messageHeaders(h http.Header) []Header {
	out := make([]Header, 0, len(h))
	for k, v := range h {
		name := strings.ToLower(k)
		if httpOnlyHeaders[name] {
			continue
		}
		out = append(out, Header{Name: name, Value: strings.Join(v, ", ")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// publishRecord is what the attempt's record keeps of a message: where it
// went (credentials masked), its headers masked like an HTTP request's,
// its body.
func publishRecord(ep *herald.Endpoint, m *Message) herald.AttemptRequest {
	h := make(map[string]string, len(m.Headers))
	for _, x := range m.Headers {
		h[x.Name] = x.Value
	}
	return herald.AttemptRequest{Method: PublishMethod, URL: Describe(ep.Kind, m.Dest), Headers: herald.MaskRequestHeaders(h, ep.PlainHeaders), Body: string(m.Body)}
}

// Describe says in a line where a message to d goes, credentials masked:
// "nats://127.0.0.1:4222 subject orders.created stream ORDERS".
func Describe(kind string, d *herald.Destination) string {
	if d == nil {
		return kind
	}
	var parts []string
	switch {
	case d.URL != "":
		parts = append(parts, herald.MaskURLPassword(d.URL))
	case len(d.Brokers) > 0:
		parts = append(parts, kind+"://"+strings.Join(d.Brokers, ","))
	case d.QueueURL != "":
		parts = append(parts, herald.MaskURLPassword(d.QueueURL))
	default:
		parts = append(parts, kind)
		if d.Endpoint != "" {
			parts = append(parts, "endpoint", herald.MaskURLPassword(d.Endpoint))
		}
	}
	for _, f := range []struct{ name, v string }{
		{"project", d.Project}, {"exchange", d.Exchange}, {"routing_key", d.RoutingKey},
		{"subject", d.Subject}, {"stream", d.Stream}, {"topic", d.Topic}, {"key", d.Key},
		{"ordering_key", d.OrderingKey}, {"message_group_id", d.MessageGroupID}, {"deduplication_id", d.DeduplicationID},
	} {
		if f.v != "" {
			parts = append(parts, f.name, f.v)
		}
	}
	return strings.Join(parts, " ")
}

// scrub removes the destination's credentials from a message meant for
// the history: client libraries may quote the URL they were given.
func scrub(s string, d *herald.Destination) string {
	secrets := d.Secrets()
	// Longest first: one may contain another.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, herald.Masked)
		}
	}
	return s
}

// publish sends m through the pooled client of the endpoint's version.
func (b *Brokers) publish(ctx context.Context, ep *herald.Endpoint, kind Kind, m *Message) (string, error) {
	if ep.ID == "" {
		// An endpoint not yet saved has no version to pool by.
		c, err := kind.Open(ctx, ep.Destination, b.env)
		if err != nil {
			return "", err
		}
		defer c.Close()
		return c.Publish(ctx, m)
	}
	p, err := b.acquire(ctx, ep, kind)
	if err != nil {
		return "", err
	}
	defer b.release(p)
	return p.client.Publish(ctx, m)
}

// clientKey names an endpoint version: its id, when it was saved, and
// its destination (a hash, so the key holds no credential).
func clientKey(ep *herald.Endpoint) string {
	raw, _ := json.Marshal(ep.Destination)
	sum := sha256.Sum256(raw)
	return ep.ID + "@" + ep.UpdatedAt.UTC().Format(time.RFC3339Nano) + "#" + hex.EncodeToString(sum[:12])
}

// acquire returns the endpoint version's client, opening it on first use,
// marked in use until release.
func (b *Brokers) acquire(ctx context.Context, ep *herald.Endpoint, kind Kind) (*pooled, error) {
	key := clientKey(ep)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errClosed
	}
	p := b.clients[key]
	var toClose []Client
	if p == nil {
		p = &pooled{key: key, endpoint: ep.ID, updated: ep.UpdatedAt, ready: make(chan struct{})}
		// A newer version replaces the older ones.
		for _, old := range b.byEndpoint[ep.ID] {
			if old.updated.Before(ep.UpdatedAt) || old.updated.Equal(ep.UpdatedAt) {
				toClose = append(toClose, b.retireLocked(old)...)
			}
		}
		b.clients[key] = p
		b.byEndpoint[ep.ID] = append(b.byEndpoint[ep.ID], p)
		p.elem = b.lru.PushFront(p)
		for b.lru.Len() > b.max {
			toClose = append(toClose, b.retireLocked(b.lru.Back().Value.(*pooled))...)
		}
		p.users++
		p.lastUsed = time.Now()
		b.mu.Unlock()
		closeAll(toClose, b.log)
		b.open(ctx, ep, kind, p)
	} else {
		b.lru.MoveToFront(p.elem)
		p.users++
		p.lastUsed = time.Now()
		b.mu.Unlock()
	}
	select {
	case <-p.ready:
	case <-ctx.Done():
		b.release(p)
		return nil, ctx.Err()
	}
	if p.err != nil {
		err := p.err
		b.release(p)
		return nil, err
	}
	return p, nil
}

// open opens p's client. It is not bound to the delivery's context (the
// client is shared) but to the kinds' connect timeout.
func (b *Brokers) open(ctx context.Context, ep *herald.Endpoint, kind Kind, p *pooled) {
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.env.Timeout)
	defer cancel()
	c, err := kind.Open(octx, ep.Destination, b.env)
	if err == nil && c == nil {
		err = errors.New("the destination kind opened no client")
	}
	b.mu.Lock()
	p.client, p.err = c, err
	if err != nil && !p.retired {
		// Not kept: the next delivery tries again.
		b.removeLocked(p)
	}
	close(p.ready)
	b.mu.Unlock()
}

// release ends one use of p; a retired client closes with its last use.
func (b *Brokers) release(p *pooled) {
	b.mu.Lock()
	p.users--
	p.lastUsed = time.Now()
	var c Client
	if p.retired && p.users == 0 && p.client != nil {
		c, p.client = p.client, nil
	}
	b.mu.Unlock()
	if c != nil {
		closeAll([]Client{c}, b.log)
	}
}

// retireLocked takes p out of the pool; it returns its client when no
// publish is using it, for the caller to close outside the lock.
func (b *Brokers) retireLocked(p *pooled) []Client {
	if p.retired {
		return nil
	}
	b.removeLocked(p)
	p.retired = true
	if p.users == 0 && p.client != nil {
		c := p.client
		p.client = nil
		return []Client{c}
	}
	return nil
}

func (b *Brokers) removeLocked(p *pooled) {
	if b.clients[p.key] == p {
		delete(b.clients, p.key)
	}
	if p.elem != nil {
		b.lru.Remove(p.elem)
		p.elem = nil
	}
	list := slices.DeleteFunc(b.byEndpoint[p.endpoint], func(x *pooled) bool { return x == p })
	if len(list) == 0 {
		delete(b.byEndpoint, p.endpoint)
	} else {
		b.byEndpoint[p.endpoint] = list
	}
}

func closeAll(cs []Client, log *slog.Logger) {
	for _, c := range cs {
		if err := c.Close(); err != nil {
			log.Debug("closing a broker client", "error", err)
		}
	}
}

// Forget closes the clients of an endpoint: call it when the endpoint is
// deleted or its destination changes.
func (b *Brokers) Forget(endpointID string) {
	b.mu.Lock()
	var toClose []Client
	for _, p := range slices.Clone(b.byEndpoint[endpointID]) {
		toClose = append(toClose, b.retireLocked(p)...)
	}
	b.mu.Unlock()
	closeAll(toClose, b.log)
}

// Open returns how many clients the pool holds.
func (b *Brokers) Open() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.clients)
}

// sweep closes the clients left unused for IdleAfter.
func (b *Brokers) sweep() {
	defer close(b.done)
	t := time.NewTicker(min(b.idle/4, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		b.mu.Lock()
		var toClose []Client
		for e := b.lru.Back(); e != nil; {
			p := e.Value.(*pooled)
			e = e.Prev()
			if p.users == 0 && now.Sub(p.lastUsed) >= b.idle {
				toClose = append(toClose, b.retireLocked(p)...)
			}
		}
		b.mu.Unlock()
		closeAll(toClose, b.log)
	}
}

// Close closes every client (those publishing, when they are done) and
// stops the sweeper; later publishes fail.
func (b *Brokers) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var toClose []Client
	for e := b.lru.Front(); e != nil; {
		p := e.Value.(*pooled)
		e = e.Next()
		toClose = append(toClose, b.retireLocked(p)...)
	}
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	closeAll(toClose, b.log)
	return nil
}

// Router sends each delivery the way its endpoint takes: push (and pull
// handouts) over HTTP, broker endpoints through Brokers. It is what the
// engine, the previews and the pull handouts call.
type Router struct {
	HTTP    *HTTP
	Brokers *Brokers
}

// Send makes one attempt of the delivery.
func (r *Router) Send(ctx context.Context, d *Delivery) Outcome {
	if d.Endpoint.IsBroker() {
		return r.Brokers.Send(ctx, d)
	}
	return r.HTTP.Send(ctx, d)
}

// SendBatch makes one attempt of several deliveries of a batching push
// endpoint in one request (see HTTP.SendBatch); broker endpoints do not
// batch.
func (r *Router) SendBatch(ctx context.Context, ds []*Delivery) BatchOutcome {
	if len(ds) > 0 && ds[0].Endpoint.IsBroker() {
		return BatchOutcome{Outcome: Outcome{Kind: herald.ErrorKindPolicy, Error: "a " + ds[0].Endpoint.Kind + " endpoint does not batch"}}
	}
	return r.HTTP.SendBatch(ctx, ds)
}

// Preview builds what an attempt would send now, without sending it.
func (r *Router) Preview(ctx context.Context, d *Delivery) (*Request, error) {
	if d.Endpoint.IsBroker() {
		return r.Brokers.Preview(ctx, d)
	}
	return r.HTTP.Preview(ctx, d)
}

// PreviewBatch builds what a batched attempt would send now (see
// HTTP.PreviewBatch); broker endpoints do not batch.
func (r *Router) PreviewBatch(ctx context.Context, ds []*Delivery) (*Request, error) {
	if len(ds) > 0 && ds[0].Endpoint.IsBroker() {
		return nil, errors.New("a " + ds[0].Endpoint.Kind + " endpoint does not batch")
	}
	return r.HTTP.PreviewBatch(ctx, ds)
}

// Handout builds a pull endpoint's attempt for its client (see
// HTTP.Handout).
func (r *Router) Handout(ctx context.Context, d *Delivery) (sent, recorded herald.AttemptRequest, err error) {
	return r.HTTP.Handout(ctx, d)
}

// Forget closes the pooled clients of an endpoint.
func (r *Router) Forget(endpointID string) { r.Brokers.Forget(endpointID) }

// Close closes the broker clients.
func (r *Router) Close() error { return r.Brokers.Close() }
