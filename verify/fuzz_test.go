package verify_test

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/verify"
)

// FuzzVerify feeds arbitrary header values and bodies to VerifyAt, on an
// HMAC Verifier (New) and a public-key one (NewPublic). It checks that
// nothing panics, that nothing forged verifies by accident, and that a
// request signed under the Verifier's key always verifies, whatever other
// signatures, of either scheme, share its header.
func FuzzVerify(f *testing.F) {
	vecs := loadVectors(f)
	vec := vecs.V1[0]
	ts := strconv.FormatInt(vec.Timestamp, 10)

	// Each published v1 vector, exactly as a sender would send it.
	for _, v := range vecs.V1 {
		f.Add(v.ID, strconv.FormatInt(v.Timestamp, 10), v.Signature, []byte(v.Payload))
	}
	// An asymmetric v1a signature, alone and next to the valid v1 one.
	f.Add(vec.ID, ts, vecs.V1a[0].Signature, []byte(vec.Payload))
	f.Add(vec.ID, ts, vecs.V1a[0].Signature+" "+vec.Signature, []byte(vec.Payload))
	// A v1a signature by the key pair the public-key Verifier is built on,
	// alone and next to the v1 one, so the success path is seeded for both.
	priv, pub := testKeyPair()
	v1a := signV1a(priv, vec.ID, vec.Timestamp, []byte(vec.Payload))
	f.Add(vec.ID, ts, v1a, []byte(vec.Payload))
	f.Add(vec.ID, ts, vec.Signature+" "+v1a, []byte(vec.Payload))
	f.Add(vec.ID, ts, "v1a,", []byte(vec.Payload))
	// The must_reject wrong and empty signatures.
	f.Add(vec.ID, ts, vecs.MustReject[0]["signature"].(string), []byte(vec.Payload))
	f.Add(vec.ID, ts, "v1,", []byte(vec.Payload))
	// Timestamps just outside the five-minute window, both ways.
	f.Add(vec.ID, strconv.FormatInt(vec.Timestamp-301, 10), vec.Signature, []byte(vec.Payload))
	f.Add(vec.ID, strconv.FormatInt(vec.Timestamp+301, 10), vec.Signature, []byte(vec.Payload))
	// Timestamps that are not decimal Unix seconds.
	f.Add(vec.ID, "+"+ts, vec.Signature, []byte(vec.Payload))
	f.Add(vec.ID, "99999999999999999999", vec.Signature, []byte(vec.Payload))
	// The largest timestamp: the tolerance window around it must not overflow.
	f.Add(vec.ID, "9223372036854775807", vec.Signature, []byte(vec.Payload))
	// Missing id and an empty body.
	f.Add("", ts, vec.Signature, []byte{})

	secret := vec.Secret
	v, err := verify.New(secret)
	if err != nil {
		f.Fatal(err)
	}
	pv, err := verify.NewPublic(pub)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(vec.Timestamp, 0)

	f.Fuzz(func(t *testing.T, id, tsRaw, sigs string, body []byte) {
		// Arbitrary headers: any error is fine, but success must be genuine.
		h := http.Header{
			"Webhook-Id":        {id},
			"Webhook-Timestamp": {tsRaw},
			"Webhook-Signature": {sigs},
		}
		if err := v.VerifyAt(h, body, now); err == nil {
			sec, perr := strconv.ParseInt(tsRaw, 10, 64)
			if perr != nil || strconv.FormatInt(sec, 10) != tsRaw {
				t.Fatalf("accepted non-canonical timestamp %q", tsRaw)
			}
			want, serr := verify.Sign(secret, id, time.Unix(sec, 0), body)
			if serr != nil || !bytes.Contains([]byte(sigs), []byte(want)) {
				t.Fatalf("accepted %q without its signature %q among %q", tsRaw, want, sigs)
			}
		}
		// Ed25519 signatures are deterministic and only their canonical
		// encoding is accepted, so the same holds for the public-key Verifier.
		if err := pv.VerifyAt(h, body, now); err == nil {
			sec, perr := strconv.ParseInt(tsRaw, 10, 64)
			if perr != nil || strconv.FormatInt(sec, 10) != tsRaw {
				t.Fatalf("public key: accepted non-canonical timestamp %q", tsRaw)
			}
			if want := signV1a(priv, id, sec, body); !bytes.Contains([]byte(sigs), []byte(want)) {
				t.Fatalf("public key: accepted %q without its signature %q among %q", tsRaw, want, sigs)
			}
		}

		// Round trip: sign this id and body at a time derived from the
		// fuzzed timestamp with both schemes, and list the fuzzed signatures
		// before them. Each Verifier must find its own signature.
		sec, perr := strconv.ParseInt(tsRaw, 10, 64)
		if perr != nil {
			sec = vec.Timestamp
		}
		at := time.Unix(sec, 0)
		sig, err := verify.Sign(secret, id, at, body)
		if err != nil {
			t.Fatal(err)
		}
		h = http.Header{
			"Webhook-Id":        {id},
			"Webhook-Timestamp": {strconv.FormatInt(sec, 10)},
			"Webhook-Signature": {sigs + " " + sig + " " + signV1a(priv, id, sec, body)},
		}
		for _, vv := range []*verify.Verifier{v, pv} {
			err = vv.VerifyAt(h, body, at)
			switch {
			case id == "":
				if !errors.Is(err, verify.ErrMissingHeaders) {
					t.Fatalf("empty id: VerifyAt = %v, want ErrMissingHeaders", err)
				}
			case sec < 0:
				// Sign writes a minus sign, which no real sender does.
				if !errors.Is(err, verify.ErrInvalidTimestamp) {
					t.Fatalf("negative timestamp: VerifyAt = %v, want ErrInvalidTimestamp", err)
				}
			case err != nil:
				t.Fatalf("round trip failed (public key: %v): id %q ts %d sigs %q: %v",
					vv == pv, id, sec, h["Webhook-Signature"][0], err)
			default:
				// The same request with the body changed must fail.
				tampered := append(bytes.Clone(body), 'x')
				if err := vv.VerifyAt(h, tampered, at); !errors.Is(err, verify.ErrNoMatchingSignature) {
					t.Fatalf("tampered body (public key: %v): VerifyAt = %v, want ErrNoMatchingSignature", vv == pv, err)
				}
			}
		}
	})
}
