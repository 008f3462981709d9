package xsim

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// errNoOAuth is returned by parseOAuth when the request carries no usable
// OAuth 1.0a Authorization header.
var errNoOAuth = errors.New("no oauth authorization header")

// oauthRequired lists the protocol parameters X requires on a user-context
// request (RFC 5849 section 3.1; oauth_version is optional).
var oauthRequired = [...]string{
	"oauth_consumer_key",
	"oauth_token",
	"oauth_signature_method",
	"oauth_signature",
	"oauth_timestamp",
	"oauth_nonce",
}

// parseOAuth reads the Authorization header of r as RFC 5849 section 3.5.1
// describes it: `OAuth k1="v1", k2="v2"` with percent-encoded keys and values.
// It returns the decoded parameters, or errNoOAuth when the header is absent,
// malformed or lacks a required parameter.
func parseOAuth(r *http.Request) (map[string]string, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "OAuth") {
		return nil, errNoOAuth
	}
	params := make(map[string]string)
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, errNoOAuth
		}
		v = strings.TrimSpace(v)
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, errNoOAuth
		}
		key, err := url.PathUnescape(strings.TrimSpace(k))
		if err != nil {
			return nil, errNoOAuth
		}
		val, err := url.PathUnescape(v[1 : len(v)-1])
		if err != nil {
			return nil, errNoOAuth
		}
		params[key] = val
	}
	for _, k := range oauthRequired {
		if params[k] == "" {
			return nil, errNoOAuth
		}
	}
	return params, nil
}
