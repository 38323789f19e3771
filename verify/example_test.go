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
