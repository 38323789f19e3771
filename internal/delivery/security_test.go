package delivery_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/verify"
)

// fakeDNS answers from a table; nothing leaves the machine.
type fakeDNS map[string][]netip.Addr

func (f fakeDNS) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestSSRFRefused(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	dns := fakeDNS{
		"crm.internal.test": {netip.MustParseAddr("10.0.0.5")},
		"meta.test":         {netip.MustParseAddr("169.254.169.254")},
		"ok.test":           {netip.MustParseAddr("127.0.0.1")},
	}
	// The policy users get: no private destinations.
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "10ms,10ms", Resolver: dns,
		Config: func(c *config.Serve) { c.AllowPrivateDestinations = false }})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "sample": map[string]any{"x": 1}}, nil, 201)
	// Literal blocked addresses are refused when the endpoint is saved.
	for _, u := range []string{rc.URL, "http://localhost/", "http://10.1.2.3/", "http://[::1]:8080/", "http://169.254.169.254/latest/meta-data", "http://100.64.0.1/", "http://0x7f000001/"} {
		var e apiErr
		if got := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": u}, &e); got != 422 || e.Error.Field != "url" || !strings.Contains(e.Error.Message, "not allowed") {
			t.Errorf("%s: %d %+v", u, got, e)
		}
	}
	// A name that resolves to a blocked address is refused when dialled,
	// and not retried. The attempt, which the tenant reads, says the kind
	// of address, never the address the name resolved to (that would map
	// Herald's network); the operator's log has it.
	var ep struct{ ID string }
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(rc.URL, "http://"))
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://crm.internal.test:" + port + "/hook"}, &ep, 201)
	ev := s.Send(map[string]any{"x": 1})
	d := s.WaitDelivery(ev, "failed", 1, 5*time.Second)
	a := d.Attempts[0]
	if a.ErrorKind != "policy" || strings.Contains(a.Error, "10.0.0.5") || !strings.Contains(a.Error, "private") {
		t.Fatalf("attempt %+v", a)
	}
	if !s.Logged("destination refused", "endpoint_id="+ep.ID, "10.0.0.5", "crm.internal.test") {
		t.Fatalf("the operator's log lacks the refused address:\n%s", s.Log())
	}
	// Test sends too.
	var out struct {
		Attempt struct {
			ErrorKind string `json:"error_kind"`
			Error     string
		}
	}
	var ep2 struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://meta.test/latest", "event_types": []string{"nothing.*"}}, &ep2, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep2.ID+"/test", map[string]any{"event_type": "lead.created"}, &out, 200)
	if out.Attempt.ErrorKind != "policy" || strings.Contains(out.Attempt.Error, "169.254") || !strings.Contains(out.Attempt.Error, "link-local") {
		t.Fatalf("test send %+v", out.Attempt)
	}
	if n := len(rc.Requests()); n != 0 {
		t.Fatalf("the receiver behind a blocked address got %d requests", n)
	}
}

func TestSSRFAllowList(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{
		Config: func(c *config.Serve) {
			c.AllowPrivateDestinations = false
			c.DestinationAllowCIDRs = "127.0.0.1/32"
		},
		Resolver: fakeDNS{"receiver.test": {netip.MustParseAddr("127.0.0.1")}},
	})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(rc.URL, "http://"))
	s.Setup("http://receiver.test:"+port+"/hook", nil)
	s.Send(map[string]any{"x": 1})
	rc.Wait(t, 1, 5*time.Second)
}

func TestSecretRotation(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL, nil)
	old := secretOf(t, s, epID)
	var rot struct {
		Secret    string
		ExpiresAt *time.Time `json:"previous_secret_expires_at"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+epID+"/secret/rotate", map[string]any{"grace_period": "2s"}, &rot, 200)
	if rot.Secret == old || !strings.HasPrefix(rot.Secret, "whsec_") || rot.ExpiresAt == nil || secretOf(t, s, epID) != rot.Secret {
		t.Fatalf("rotation %+v", rot)
	}
	s.Send(map[string]any{"n": 1})
	req := rc.Wait(t, 1, 5*time.Second)[0]
	if sigs := strings.Fields(req.Header.Get("webhook-signature")); len(sigs) != 2 {
		t.Fatalf("signatures during the grace period: %q", req.Header.Get("webhook-signature"))
	}
	for _, secret := range []string{old, rot.Secret} {
		v, _ := verify.New(secret)
		if err := v.Verify(req.Header, req.Body); err != nil {
			t.Fatalf("a receiver on one of the secrets cannot verify: %v", err)
		}
	}
	// The old secret never shows in the endpoint.
	var ep map[string]any
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &ep, 200)
	if _, shown := ep["previous_secret"]; shown {
		t.Fatal("previous secret shown")
	}
	time.Sleep(2100 * time.Millisecond)
	s.Send(map[string]any{"n": 2})
	req = rc.Wait(t, 2, 5*time.Second)[1]
	vOld, _ := verify.New(old)
	vNew, _ := verify.New(rot.Secret)
	if vOld.Verify(req.Header, req.Body) == nil || vNew.Verify(req.Header, req.Body) != nil {
		t.Fatal("after the grace period only the new secret signs")
	}
	var e apiErr
	if got := s.Do("POST", "/v1/apps/acme/endpoints/"+epID+"/secret/rotate", map[string]any{"grace_period": "forever"}, &e); got != 422 || e.Error.Field != "grace_period" {
		t.Fatalf("bad grace period: %d %+v", got, e)
	}
}

// TestSecretsNotInDatabaseFile reads the SQLite files' bytes: no secret in
// clear, in the database or its write-ahead log.
func TestSecretsNotInDatabaseFile(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	const signing = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	epID := s.Setup(rc.URL, map[string]any{"secret": signing,
		"headers": map[string]string{"Authorization": "Bearer auth-token-0123456789", "X-ChatWorkToken": "chatwork-token-0123456789"}})
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/cw", "preset": "chatwork",
		"preset_options": map[string]string{"room_id": "1", "api_token": "preset-token-0123456789"}}, nil, 201)
	ev := s.Send(map[string]any{"n": 1})
	reqs := rc.Wait(t, 2, 5*time.Second)
	// The receiver got the real values.
	for _, r := range reqs {
		if r.Path == "/" && r.Header.Get("Authorization") != "Bearer auth-token-0123456789" {
			t.Fatalf("sent Authorization %q", r.Header.Get("Authorization"))
		}
	}
	if secretOf(t, s, epID) != signing {
		t.Fatal("secret not readable through the API")
	}
	// The attempts, with the requests' headers, are written before the
	// files are read.
	settled(t, s, ev, 2)
	files, _ := filepath.Glob(filepath.Join(s.Dir, "herald.db*"))
	if len(files) < 2 {
		t.Fatalf("database files %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{signing, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "auth-token-0123456789", "chatwork-token-0123456789", "preset-token-0123456789"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds %q in clear", filepath.Base(f), secret)
			}
		}
	}
}

func TestEd25519Signatures(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL, map[string]any{"signature_scheme": "v1a"})
	if sec := secretOf(t, s, epID); !strings.HasPrefix(sec, "whsk_") {
		t.Fatalf("v1a secret %q", sec)
	}
	var pk struct {
		PublicKey string `json:"public_key"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/public-key", nil, &pk, 200)
	s.Send(map[string]any{"n": 1})
	req := rc.Wait(t, 1, 5*time.Second)[0]
	if !strings.HasPrefix(req.Header.Get("webhook-signature"), "v1a,") {
		t.Fatalf("signature %q", req.Header.Get("webhook-signature"))
	}
	v, err := verify.NewPublic(pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(req.Header, req.Body); err != nil {
		t.Fatalf("public key does not verify: %v", err)
	}
	// The JWKS document has the same key, fetched without a token.
	var doc struct {
		Keys []struct{ Kty, Crv, X, Kid string }
	}
	if got := s.DoWith("GET", "/.well-known/herald/jwks/acme", nil, &doc, http.Header{}); got != 200 || len(doc.Keys) != 1 || doc.Keys[0].Kid != epID || doc.Keys[0].Crv != "Ed25519" {
		t.Fatalf("jwks %d %+v", got, doc)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(doc.Keys[0].X)
	if v2, err := verify.NewPublic(base64.StdEncoding.EncodeToString(raw)); err != nil || v2.Verify(req.Header, req.Body) != nil {
		t.Fatalf("the JWKS key does not verify: %v", err)
	}
	// Rotation with overlap: both keys sign and are published.
	var rot struct {
		PublicKey string `json:"public_key"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+epID+"/secret/rotate", map[string]any{"grace_period": "1h"}, &rot, 200)
	s.Send(map[string]any{"n": 2})
	req = rc.Wait(t, 2, 5*time.Second)[1]
	vNew, _ := verify.NewPublic(rot.PublicKey)
	if v.Verify(req.Header, req.Body) != nil || vNew.Verify(req.Header, req.Body) != nil {
		t.Fatalf("during rotation both keys must verify: %q", req.Header.Get("webhook-signature"))
	}
	s.DoWith("GET", "/.well-known/herald/jwks/acme", nil, &doc, http.Header{})
	if len(doc.Keys) != 2 {
		t.Fatalf("jwks during rotation: %+v", doc.Keys)
	}
	// A v1 endpoint has no public key; a wrong kind of secret is refused.
	var v1 struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/v1"}, &v1, 201)
	var e apiErr
	if got := s.Do("GET", "/v1/apps/acme/endpoints/"+v1.ID+"/public-key", nil, &e); got != 422 {
		t.Fatalf("public key of a v1 endpoint: %d", got)
	}
	if got := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "signature_scheme": "v1a", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, &e); got != 422 || e.Error.Field != "secret" {
		t.Fatalf("whsec_ for v1a: %d %+v", got, e)
	}
}

// certs is a small PKI for TLS tests: a CA, and certificates it signs.
type certs struct {
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	caPEM string
}

func newCA(t *testing.T, name string) *certs {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &certs{ca: ca, caKey: key, caPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue returns a PEM certificate and key signed by the CA.
func (c *certs) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (string, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, &key.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
}

// TestMutualTLS delivers to a receiver behind a private CA that demands a
// client certificate.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	serverCA, clientCA := newCA(t, "receiver CA"), newCA(t, "client CA")
	srvCert, srvKey := serverCA.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := clientCA.issue(t, "herald", x509.ExtKeyUsageClientAuth)
	pair, err := tls.X509KeyPair([]byte(srvCert), []byte(srvKey))
	if err != nil {
		t.Fatal(err)
	}
	clients := x509.NewCertPool()
	clients.AddCert(clientCA.ca)
	var seen atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 1 && r.TLS.PeerCertificates[0].Subject.CommonName == "herald" {
			seen.Add(1)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	srv.StartTLS()
	defer srv.Close()

	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h"})
	epID := s.Setup(srv.URL, map[string]any{"tls_ca_bundle": serverCA.caPEM, "tls_client_cert": cliCert, "tls_client_key": cliKey})
	ev := s.Send(map[string]any{"n": 1})
	s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
	if seen.Load() != 1 {
		t.Fatal("the receiver did not see Herald's client certificate")
	}
	var ep map[string]any
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &ep, 200)
	if ep["tls_client_key"] != "********" {
		t.Fatalf("client key shown: %v", ep["tls_client_key"])
	}
	// Without the client certificate the handshake fails: error_kind tls.
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"tls_client_cert": "", "tls_client_key": ""}, nil, 200)
	d := s.WaitDelivery(s.Send(map[string]any{"n": 2}), "pending", 1, 5*time.Second)
	if d.Attempts[0].ErrorKind != "tls" && d.Attempts[0].ErrorKind != "network" {
		t.Fatalf("without a client certificate: %+v", d.Attempts[0])
	}
	// Without the CA bundle the receiver's certificate is not trusted.
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"tls_ca_bundle": ""}, nil, 200)
	d = s.WaitDelivery(s.Send(map[string]any{"n": 3}), "pending", 1, 5*time.Second)
	if d.Attempts[0].ErrorKind != "tls" {
		t.Fatalf("untrusted receiver: %+v", d.Attempts[0])
	}
	var e apiErr
	if got := s.Do("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"tls_client_cert": cliCert}, &e); got != 422 || e.Error.Field != "tls_client_cert" {
		t.Fatalf("cert without key: %d %+v", got, e)
	}
	if got := s.Do("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"tls_ca_bundle": "not pem"}, &e); got != 422 || e.Error.Field != "tls_ca_bundle" {
		t.Fatalf("bad bundle: %d %+v", got, e)
	}
}

// A product's own secret (not of the whsec_ form, special characters and
// all) is the raw HMAC key.
func TestRawSecret(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	const raw = `my Pendo secret: p@$$w0rd!&"日本"`
	epID := s.Setup(rc.URL, map[string]any{"secret": raw})
	if secretOf(t, s, epID) != raw {
		t.Fatal("raw secret not kept as given")
	}
	s.Send(map[string]any{"n": 1})
	req := rc.Wait(t, 1, 5*time.Second)[0]
	v, err := verify.NewRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(req.Header, req.Body); err != nil {
		t.Fatalf("raw secret does not verify: %v", err)
	}
	var e apiErr
	if got := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "secret": "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="}, &e); got != 422 || e.Error.Field != "secret" {
		t.Fatalf("a public key as secret: %d %+v", got, e)
	}
	// Rotation away from a raw secret gives a generated whsec_ one.
	var rot struct{ Secret string }
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+epID+"/secret/rotate", map[string]any{"grace_period": "0s"}, &rot, 200)
	if !strings.HasPrefix(rot.Secret, "whsec_") {
		t.Fatalf("rotated secret %q", rot.Secret)
	}
}

func TestEndpointAuth(t *testing.T) {
	t.Parallel()
	var tokenRequests atomic.Int64
	var current atomic.Value
	current.Store("tok-1")
	tokenSrv := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("client_id") != "cid" || r.PostForm.Get("client_secret") != "csecret" {
			w.WriteHeader(401)
			return
		}
		tokenRequests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600,"token_type":"Bearer"}`, current.Load())
	})
	var revoked atomic.Bool
	api := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/basic":
			if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "p@ss" {
				w.WriteHeader(401)
			}
		case "/bearer":
			if r.Header.Get("Authorization") != "Bearer static-token" {
				w.WriteHeader(401)
			}
		case "/oauth":
			want := "Bearer " + current.Load().(string)
			if revoked.Load() && r.Header.Get("Authorization") == "Bearer tok-1" || r.Header.Get("Authorization") != want {
				w.WriteHeader(401)
			}
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h"})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": api.URL + "/basic", "auth": map[string]any{"type": "basic", "username": "user", "password": "p@ss"}}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": api.URL + "/bearer", "auth": map[string]any{"type": "bearer", "token": "static-token"}}, nil, 201)
	var oep map[string]any
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": api.URL + "/oauth", "auth": map[string]any{
		"type": "oauth2_client_credentials", "token_url": tokenSrv.URL + "/token", "client_id": "cid", "client_secret": "csecret"}}, &oep, 201)
	if a := oep["auth"].(map[string]any); a["client_secret"] != "********" {
		t.Fatalf("client secret shown: %v", a)
	}
	for i := range 10 {
		s.Send(map[string]any{"i": i})
	}
	api.Wait(t, 30, 10*time.Second)
	for _, r := range api.Requests() {
		if r.Path == "/oauth" && r.Header.Get("Authorization") != "Bearer tok-1" {
			t.Fatalf("oauth request %v", r.Header)
		}
	}
	if n := tokenRequests.Load(); n != 1 {
		t.Fatalf("%d token requests for 10 deliveries; one token should serve them all", n)
	}
	// The receiver revokes the token: one refresh, and the delivery succeeds.
	current.Store("tok-2")
	revoked.Store(true)
	ev := s.Send(map[string]any{"i": 99})
	var ds struct{ Data []heraldtest.Delivery }
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.MustDo("GET", "/v1/apps/acme/events/"+ev+"/deliveries?status=succeeded", nil, &ds, 200)
		if len(ds.Data) == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(ds.Data) != 3 || tokenRequests.Load() != 2 {
		t.Fatalf("after revocation: %d succeeded, %d token requests (want 3 and 2)", len(ds.Data), tokenRequests.Load())
	}
	// A token endpoint that refuses: error_kind auth, retried.
	var bad struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": api.URL + "/oauth", "event_types": []string{"lead.created"}, "auth": map[string]any{
		"type": "oauth2_client_credentials", "token_url": tokenSrv.URL + "/token", "client_id": "cid", "client_secret": "wrong"}}, &bad, 201)
	ev = s.Send(map[string]any{"i": 100})
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+bad.ID+"/deliveries", nil, &ds, 200)
		if len(ds.Data) == 1 && len(ds.Data[0].Attempts) == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(ds.Data) != 1 || ds.Data[0].Attempts[0].ErrorKind != "auth" || ds.Data[0].Status != "pending" {
		t.Fatalf("token refused: %+v", ds.Data)
	}
	var e apiErr
	if got := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": api.URL, "auth": map[string]any{"type": "basic", "username": "u"}}, &e); got != 422 || e.Error.Field != "auth.password" {
		t.Fatalf("basic without password: %d %+v", got, e)
	}
	if got := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": api.URL, "auth": map[string]any{"type": "digest"}}, &e); got != 422 || e.Error.Field != "auth.type" {
		t.Fatalf("unknown type: %d %+v", got, e)
	}
}

// Two nodes on one store share an OAuth2 token: the token server sees one
// request, not one per node.
func TestOAuthTokenSharedBetweenNodes(t *testing.T) {
	t.Parallel()
	var tokenRequests atomic.Int64
	tokenSrv := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		tokenRequests.Add(1)
		fmt.Fprint(w, `{"access_token":"shared-token","expires_in":3600}`)
	})
	api := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer shared-token" {
			w.WriteHeader(401)
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(api.URL, map[string]any{"auth": map[string]any{"type": "oauth2_client_credentials",
		"token_url": tokenSrv.URL + "/token", "client_id": "c", "client_secret": "s"}})
	s.WaitDelivery(s.Send(map[string]any{"n": 1}), "succeeded", 1, 5*time.Second)
	// A second node: another engine on the same store (API-only, so that
	// it takes none of the first one's deliveries).
	other := delivery.New(s.Store, outbound.NewHTTP(sender.New(sender.Options{}), s.Store, outbound.HTTPOptions{}), delivery.Options{Owner: "node-2", NoDelivery: true})
	other.Start(context.Background())
	t.Cleanup(func() { _ = other.Shutdown(context.Background()) })
	ep, err := s.Store.EndpointGet(context.Background(), s.AppID("acme"), epID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := other.TestSend(context.Background(), ep, &herald.Event{EventType: "lead.created", Payload: herald.RawJSON(`{"n":2}`)})
	if err != nil || d.Status != "succeeded" {
		t.Fatalf("second node: %v %+v", err, d)
	}
	if n := tokenRequests.Load(); n != 1 {
		t.Fatalf("%d token requests from two nodes; the token should be shared", n)
	}
}
