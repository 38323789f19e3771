package verify_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/verify"
)

// TestVerifySvixHeaders: the verify package reads svix-* headers when no
// webhook-* header is there, and prefers webhook-* when both are.
func TestVerifySvixHeaders(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v, err := verify.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	body := []byte(`{"a":1}`)
	sig, err := verify.Sign(secret, "msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	svix := http.Header{}
	svix.Set("Svix-Id", "msg_1")
	svix.Set("Svix-Timestamp", strconv.FormatInt(now.Unix(), 10))
	svix.Set("Svix-Signature", sig)
	if err := v.Verify(svix, body); err != nil {
		t.Errorf("svix headers: %v", err)
	}
	lower := http.Header{"svix-id": svix["Svix-Id"], "svix-timestamp": svix["Svix-Timestamp"], "svix-signature": svix["Svix-Signature"]}
	if err := v.Verify(lower, body); err != nil {
		t.Errorf("lowercase svix headers: %v", err)
	}
	// With webhook-* present, those are what counts.
	both := svix.Clone()
	both.Set("Webhook-Id", "msg_other")
	both.Set("Webhook-Timestamp", svix.Get("Svix-Timestamp"))
	both.Set("Webhook-Signature", "v1,AAAA")
	if err := v.Verify(both, body); err == nil {
		t.Error("bad webhook-signature beside good svix-signature accepted")
	}
}
