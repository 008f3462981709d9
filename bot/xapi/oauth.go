package xapi

import (
	"context"
	"net/http"

	"github.com/dghubble/oauth1"
)

// signingClient returns an *http.Client that signs every request with creds
// and sends it through hc's Transport (http.DefaultTransport when nil),
// keeping hc's Timeout, CheckRedirect and Jar. wrap, when not nil, wraps the
// signing transport, so whatever it changes in a request is signed.
func signingClient(hc *http.Client, creds Credentials, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	base := http.DefaultTransport
	out := &http.Client{}
	if hc != nil {
		if hc.Transport != nil {
			base = hc.Transport
		}
		out.Timeout, out.CheckRedirect, out.Jar = hc.Timeout, hc.CheckRedirect, hc.Jar
	}
	cfg := oauth1.NewConfig(creds.ConsumerKey, creds.ConsumerSecret)
	// oauth1 takes its base transport from this context value only; the
	// context is not used for the requests themselves.
	baseCtx := context.WithValue(context.Background(), oauth1.HTTPClient, &http.Client{Transport: base})
	signer := cfg.Client(baseCtx, oauth1.NewToken(creds.AccessToken, creds.AccessSecret)).Transport
	out.Transport = signer
	if wrap != nil {
		out.Transport = wrap(signer)
	}
	return out
}
