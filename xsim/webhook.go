package xsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// SignatureHeader is the header in which X signs webhook deliveries.
const SignatureHeader = "x-twitter-webhooks-signature"

// Deliver POSTs payload as JSON to url the way X delivers Account Activity
// events: Content-Type application/json and SignatureHeader set to
// Sign(Options.ConsumerSecret, body). The caller must close the response
// body. Deliver does not count as an API request.
func (s *Server) Deliver(ctx context.Context, url string, payload any) (*http.Response, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode webhook payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(s.opts.ConsumerSecret, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("deliver webhook: %w", err)
	}
	return resp, nil
}

// Sign returns the SignatureHeader value X sends with body:
// "sha256=" + base64(HMAC-SHA256(key=secret, msg=body)).
func Sign(secret string, body []byte) string {
	return "sha256=" + hmacBase64(secret, body)
}

// CRCResponse returns the response_token X expects for a CRC challenge:
// "sha256=" + base64(HMAC-SHA256(key=secret, msg=crcToken)).
func CRCResponse(secret, crcToken string) string {
	return "sha256=" + hmacBase64(secret, []byte(crcToken))
}

// hmacBase64 returns base64(HMAC-SHA256(key, msg)) in standard encoding.
func hmacBase64(key string, msg []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(msg)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
