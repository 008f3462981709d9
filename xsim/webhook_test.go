package xsim_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hashcart/hashcart/xsim"
)

func TestCRCResponseMatchesOpenSSL(t *testing.T) {
	// printf 'challenge-123' | openssl dgst -sha256 -hmac 'demo-consumer-secret' -binary | base64
	const want = "sha256=i27mDIZcXyfFEP9BSAs0VVr26JTD9mPnLNdgTuwlN8Q="
	if got := xsim.CRCResponse("demo-consumer-secret", "challenge-123"); got != want {
		t.Errorf("CRCResponse = %q, want %q", got, want)
	}
}

func TestDeliverSignsTheBodyWithTheConsumerSecret(t *testing.T) {
	type received struct {
		method, contentType, signature string
		body                           []byte
	}
	got := make(chan received, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.Header.Get("Content-Type"), r.Header.Get("x-twitter-webhooks-signature"), body}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	sim, _, _ := start(t)
	payload := xsim.Favorite("1111", "fav-1", "42", "1790000000000000001")
	resp, err := sim.Deliver(context.Background(), hook.URL+"/webhooks/x", payload)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("Deliver returned status %d, want the receiver's 204", resp.StatusCode)
	}
	r := <-got
	if r.method != http.MethodPost || r.contentType != "application/json" {
		t.Errorf("delivered %s with Content-Type %q", r.method, r.contentType)
	}
	m := hmac.New(sha256.New, []byte(consumerSecret))
	m.Write(r.body)
	want := "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if r.signature != want {
		t.Errorf("signature %q, want %q", r.signature, want)
	}
	if xsim.Sign(consumerSecret, r.body) != want {
		t.Error("Sign disagrees with an independent HMAC-SHA256")
	}
	var decoded map[string]any
	if err := json.Unmarshal(r.body, &decoded); err != nil || decoded["for_user_id"] != "1111" {
		t.Errorf("delivered body %s does not carry the payload (%v)", r.body, err)
	}
	if sim.Requests() != 0 {
		t.Error("a delivery counted as an API request")
	}
}
