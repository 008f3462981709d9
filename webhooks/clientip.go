package webhooks

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// proxiesKey holds the trusted proxies TrustProxies was given.
type proxiesKey struct{}

// TrustProxies makes ClientIP name the client behind the reverse proxies
// in trusted (server.trusted_proxies) for every route registered after it:
// for a request whose connection comes from a trusted proxy, the client
// is the rightmost address of X-Forwarded-For that is not a trusted proxy
// itself. Proxies append the address they saw to the header, so the
// addresses to its left, which a client may have written, are never
// taken. With no trusted proxies it does nothing: the connection's
// address is the client's. The address is worked out only for a request
// that asks ClientIP (a refused token, a log line), not for every request.
func TrustProxies(app fiber.Router, trusted []netip.Prefix) {
	if len(trusted) == 0 {
		return
	}
	proxies := &trusted
	app.Use(func(c *fiber.Ctx) error {
		c.Locals(proxiesKey{}, proxies)
		return c.Next()
	})
}

// ClientIP is the address of the client that made the request: the
// connection's, or the one behind a trusted proxy (TrustProxies).
func ClientIP(c *fiber.Ctx) string {
	proxies, _ := c.Locals(proxiesKey{}).(*[]netip.Prefix)
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if proxies == nil || !ok {
		return c.IP()
	}
	var forwarded []string
	for _, v := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		forwarded = append(forwarded, string(v))
	}
	return clientAddr(peer.Unmap(), forwarded, *proxies).String()
}

// clientAddr works out the client of a request that came from peer with
// the X-Forwarded-For header values forwarded (in the order received).
func clientAddr(peer netip.Addr, forwarded []string, trusted []netip.Prefix) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !isTrusted(peer) {
		return peer
	}
	var hops []string
	for _, v := range forwarded {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := forwardedAddr(hops[i])
		if !ok {
			// A hop a trusted proxy wrote that is not an address: what is
			// left of it cannot be placed; the last proxy stands for it.
			return client
		}
		client = a
		if !isTrusted(a) {
			return a
		}
	}
	return client
}

// forwardedAddr reads one X-Forwarded-For entry: an address, possibly with
// a port ("192.0.2.1:4711", "[2001:db8::1]:443").
func forwardedAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
