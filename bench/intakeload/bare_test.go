package main

import (
	"bytes"
	"net/http/httptest"
	"testing"
)

func TestBareHandlerAcceptsOnlyValidSignatures(t *testing.T) {
	app := newBareApp("consumer-secret", "/webhooks/x", 64*1024)
	body, sig := newDeliveries("consumer-secret", "123456", "1", 1).build(0)
	_, otherSig := newDeliveries("another-secret", "123456", "1", 1).build(0)
	cases := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"signed with the secret", body, sig, 200},
		{"signed with another secret", body, otherSig, 401},
		{"body changed after signing", append(bytes.Clone(body), ' '), sig, 401},
		{"unsigned", body, "", 401},
		{"not base64", body, "sha256=%%%", 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/webhooks/x", bytes.NewReader(c.body))
			if c.sig != "" {
				req.Header.Set(signatureHeader, c.sig)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
}
