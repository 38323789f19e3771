package outbound_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
)

// clientCert makes a self-signed client certificate: the receiver trusts
// it directly, so no CA of its own is needed. (internal/delivery's tests
// build a CA for this; sharing that would mean a non-test package for a
// few lines, and this is shorter.)
func clientCert(t *testing.T, cn string) (cert *x509.Certificate, certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
}

// mtlsReceiver is a receiver behind a private CA (httptest's own
// certificate, returned as the bundle to trust) that demands a client
// certificate, and trusts those given.
func mtlsReceiver(t *testing.T, clients ...*x509.Certificate) (rc *receiver, srv *httptest.Server, caPEM string) {
	pool := x509.NewCertPool()
	for _, c := range clients {
		pool.AddCert(c)
	}
	rc = &receiver{}
	srv = httptest.NewUnstartedServer(rc)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return rc, srv, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

// A receiver behind a private CA that demands a client certificate.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	cert, certPEM, keyPEM := clientCert(t, "herald")
	rc, srv, ca := mtlsReceiver(t, cert)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})

	d := newDelivery(t, srv.URL)
	d.Endpoint.TLSCABundle, d.Endpoint.TLSClientCert, d.Endpoint.TLSClientKey = ca, certPEM, keyPEM
	wantOK(t, h.Send(context.Background(), d))
	if cn := rc.last(t).ClientCN; cn != "herald" {
		t.Fatalf("the receiver saw client certificate %q", cn)
	}

	// Without the client certificate the receiver refuses the handshake.
	d = newDelivery(t, srv.URL)
	d.Endpoint.TLSCABundle = ca
	if o := h.Send(context.Background(), d); o.Kind != herald.ErrorKindTLS && o.Kind != herald.ErrorKindNetwork {
		t.Fatalf("without a client certificate: %+v", o)
	}
	// Without the CA bundle the receiver's certificate is not trusted.
	d = newDelivery(t, srv.URL)
	d.Endpoint.TLSClientCert, d.Endpoint.TLSClientKey = certPEM, keyPEM
	if o := h.Send(context.Background(), d); o.Kind != herald.ErrorKindTLS {
		t.Fatalf("untrusted receiver: %+v", o)
	}
	// Settings that cannot be used fail before anything is sent.
	d = newDelivery(t, srv.URL)
	d.Endpoint.TLSCABundle = "not pem"
	if o := h.Send(context.Background(), d); o.Kind != herald.ErrorKindPolicy {
		t.Fatalf("a CA bundle without certificates: %+v", o)
	}
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("%d requests reached the receiver, want 1", n)
	}
}

// Endpoints not yet saved have no id to cache TLS settings by: each one
// is sent, and previewed, with its own.
func TestUnsavedEndpointsKeepTheirOwnTLS(t *testing.T) {
	t.Parallel()
	certA, certPEMA, keyPEMA := clientCert(t, "client-a")
	certB, certPEMB, keyPEMB := clientCert(t, "client-b")
	rc, srv, ca := mtlsReceiver(t, certA, certB)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})

	unsaved := func(certPEM, keyPEM string) *outbound.Delivery {
		d := newDelivery(t, srv.URL)
		d.Endpoint.ID, d.Endpoint.UpdatedAt = "", time.Time{}
		d.Endpoint.TLSCABundle, d.Endpoint.TLSClientCert, d.Endpoint.TLSClientKey = ca, certPEM, keyPEM
		return d
	}
	for _, c := range []struct{ cert, key, cn string }{{certPEMA, keyPEMA, "client-a"}, {certPEMB, keyPEMB, "client-b"}} {
		wantOK(t, h.Send(context.Background(), unsaved(c.cert, c.key)))
		if cn := rc.last(t).ClientCN; cn != c.cn {
			t.Fatalf("sent with client certificate %q, want %q", cn, c.cn)
		}
	}
	d := unsaved(certPEMA, keyPEMA)
	d.Endpoint.TLSCABundle = "not pem"
	if _, err := h.Preview(context.Background(), d); err == nil {
		t.Fatal("previewed with a CA bundle that holds no certificate")
	}
}
