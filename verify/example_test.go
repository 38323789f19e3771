package verify_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/verify"
)

func Example() {
	// The endpoint's signing secret, as shown by Herald.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v, err := verify.New(secret)
	if err != nil {
		panic(err)
	}

	// A request as Herald sends it; Sign stands in for Herald here.
	body := []byte(`{"type":"invoice.paid","data":{"id":"inv_42"}}`)
	now := time.Now()
	sig, err := verify.Sign(secret, "msg_2bF6dX9", now, body)
	if err != nil {
		panic(err)
	}
	req, err := http.NewRequest(http.MethodPost, "https://example.com/webhooks", bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("webhook-id", "msg_2bF6dX9")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)

	// In a handler, body comes from io.ReadAll(req.Body).
	fmt.Println(v.Verify(req.Header, body))

	// An altered body no longer verifies.
	err = v.Verify(req.Header, []byte(`{"type":"invoice.paid","data":{"id":"inv_43"}}`))
	fmt.Println(errors.Is(err, verify.ErrNoMatchingSignature))

	// Nor does a replay after the tolerance has passed.
	err = v.VerifyAt(req.Header, body, now.Add(10*time.Minute))
	fmt.Println(errors.Is(err, verify.ErrTimestampTooOld))
	// Output:
	// <nil>
	// true
	// true
}

func ExampleNewPublic() {
	// The endpoint's public key, as shown by Herald. Only Herald holds the
	// matching secret key, so this Verifier cannot be used to forge requests.
	v, err := verify.NewPublic("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=")
	if err != nil {
		panic(err)
	}

	// A request Herald signed with the key pair (a published Standard
	// Webhooks test vector). A sender may list a v1 signature too, for
	// receivers still on the shared secret; this Verifier skips it.
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "+
		"v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==")
	body := []byte(`{"test": 2432232314}`)

	// The vector is old, so check it at the time it was signed; in a
	// handler, call v.Verify(r.Header, body).
	signedAt := time.Unix(1614265330, 0)
	fmt.Println(v.VerifyAt(h, body, signedAt))

	// Only the v1 signature: nothing this Verifier can check.
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	err = v.VerifyAt(h, body, signedAt)
	fmt.Println(errors.Is(err, verify.ErrNoMatchingSignature))
	// Output:
	// <nil>
	// true
}
