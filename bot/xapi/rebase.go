package xapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// goTwitterHost is the host go-twitter hard-codes into every request.
const goTwitterHost = "api.twitter.com"

// rebaseTransport points go-twitter's requests at the configured base URL and
// binds them to ctx. It must wrap the OAuth1 signing transport, not sit under
// it: the signature base string covers scheme, host and path, so the URL has
// to be final before it is signed.
type rebaseTransport struct {
	ctx  context.Context
	base *url.URL
	next http.RoundTripper
}

// RoundTrip sends a copy of req addressed to base (scheme, host, path prefix
// + original path, query kept) and carrying ctx. A request for any host other
// than go-twitter's is refused, so nothing leaks to a host we did not choose.
func (t *rebaseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != goTwitterHost {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("refuse request for host %q: only %s is rebased", req.URL.Host, goTwitterHost)
	}
	r := req.Clone(t.ctx)
	r.URL.Scheme = t.base.Scheme
	r.URL.Host = t.base.Host
	r.URL.Path = strings.TrimSuffix(t.base.Path, "/") + req.URL.Path
	r.URL.RawPath = ""
	r.Host = t.base.Host
	return t.next.RoundTrip(r)
}
