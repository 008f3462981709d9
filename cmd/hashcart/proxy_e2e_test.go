package main

import (
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/hashcart/hashcart/storage"
)

// The merchant page's bound on wrong tokens counts per client address: by
// default the connection's, whatever X-Forwarded-For says; behind a
// trusted proxy, the address the proxy appended, never one the client
// wrote into the header.
func TestSignInBoundCountsTheClientBehindATrustedProxy(t *testing.T) {
	s := startTwoShops(t, storage.DriverSQLite)
	signIn := func(token, forwardedFor string) int {
		t.Helper()
		return requestWith(t, s.base+"/merchant?token="+url.QueryEscape(token), map[string]string{"X-Forwarded-For": forwardedFor}).status
	}
	const wrong = "not-the-token-0123456789abcdef0123456789"
	for i := range 10 {
		if st := signIn(wrong, "198.51.100."+string(rune('0'+i))); st != 401 {
			t.Fatalf("wrong token %d: %d", i+1, st)
		}
	}
	// No trusted proxy: the header is not believed; all ten came from 127.0.0.1.
	if st := signIn(acmeDashToken, "198.51.100.200"); st != 429 {
		t.Fatalf("right token from the same connection address after 10 wrong: %d, want 429", st)
	}

	s.stop(syscall.SIGTERM)
	editConfig(t, s.config, "  shutdown_timeout: 5s\n", "  shutdown_timeout: 5s\n  trusted_proxies: [\"127.0.0.1\"]\n")
	s.instance = start(t, s.config, s.base)
	for i := range 10 {
		// The client writes an address of its own in front of the one
		// the proxy appends.
		if st := signIn(wrong, "203.0.113."+string(rune('0'+i))+", 198.51.100.7"); st != 401 {
			t.Fatalf("wrong token %d behind the proxy: %d", i+1, st)
		}
	}
	if st := signIn(acmeDashToken, "198.51.100.7"); st != 429 {
		t.Fatalf("right token from the guessing client: %d, want 429", st)
	}
	if st := signIn(acmeDashToken, "198.51.100.8, 198.51.100.7"); st != 429 {
		t.Fatalf("the guessing client naming another address in the header: %d, want 429", st)
	}
	if st := signIn(acmeDashToken, "198.51.100.8"); st != 303 {
		t.Fatalf("right token from another client behind the same proxy: %d, want 303", st)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, `msg="merchant page: wrong token" ip=198.51.100.7`) || strings.Contains(logs, "ip=203.0.113.") {
		t.Errorf("the logs do not name the client the proxy saw:\n%s", logs)
	}
}
