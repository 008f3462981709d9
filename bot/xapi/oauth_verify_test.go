package xapi_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// This file checks OAuth 1.0a signatures independently of dghubble/oauth1
// (RFC 5849 sections 3.4 and 3.5.1), so a test fails when a request is signed
// for a URL other than the one actually requested.

// oauthParams parses an `OAuth k="v", ...` Authorization header.
func oauthParams(h string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(h, "OAuth ")
	if !ok {
		return nil, fmt.Errorf("authorization %q: not OAuth", h)
	}
	out := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, fmt.Errorf("authorization part %q: malformed", part)
		}
		val, err := url.PathUnescape(v[1 : len(v)-1])
		if err != nil {
			return nil, err
		}
		out[k] = val
	}
	return out, nil
}

// rfc3986 percent-encodes s leaving only unreserved characters.
func rfc3986(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// verifySignature checks r's HMAC-SHA1 OAuth signature as received by an
// http (not https) test server; form is r's form body, already read.
func verifySignature(r *http.Request, form url.Values, consumerSecret, tokenSecret string) error {
	params, err := oauthParams(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	if params["oauth_signature_method"] != "HMAC-SHA1" {
		return fmt.Errorf("signature method %q", params["oauth_signature_method"])
	}
	var pairs [][2]string
	add := func(k, v string) { pairs = append(pairs, [2]string{rfc3986(k), rfc3986(v)}) }
	for k, v := range params {
		if k != "oauth_signature" && k != "realm" {
			add(k, v)
		}
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			add(k, v)
		}
	}
	for k, vs := range form {
		for _, v := range vs {
			add(k, v)
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	joined := make([]string, len(pairs))
	for i, p := range pairs {
		joined[i] = p[0] + "=" + p[1]
	}
	baseURI := "http://" + strings.ToLower(r.Host) + r.URL.EscapedPath()
	base := r.Method + "&" + rfc3986(baseURI) + "&" + rfc3986(strings.Join(joined, "&"))
	m := hmac.New(sha1.New, []byte(rfc3986(consumerSecret)+"&"+rfc3986(tokenSecret)))
	m.Write([]byte(base))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	if params["oauth_signature"] != want {
		return fmt.Errorf("oauth_signature %q does not sign %q", params["oauth_signature"], base)
	}
	return nil
}
