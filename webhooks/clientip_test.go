package webhooks

import (
	"net/netip"
	"testing"
)

func TestClientAddrTakesNoAddressAClientWrote(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name      string
		peer      string
		forwarded []string
		want      string
	}{
		{"no proxy: the header is ignored", "198.51.100.7", []string{"203.0.113.9"}, "198.51.100.7"},
		{"one proxy", "10.0.0.2", []string{"198.51.100.7"}, "198.51.100.7"},
		{"a client's own header is left of what the proxy appended", "10.0.0.2", []string{"203.0.113.9, 198.51.100.7"}, "198.51.100.7"},
		{"two proxies", "127.0.0.1", []string{"198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"headers given twice are one list", "127.0.0.1", []string{"203.0.113.9", "198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"from inside: every hop trusted", "127.0.0.1", []string{"10.0.0.5, 10.0.0.2"}, "10.0.0.5"},
		{"no header from a proxy", "10.0.0.2", nil, "10.0.0.2"},
		{"ports and brackets", "10.0.0.2", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"an address with a port", "10.0.0.2", []string{"198.51.100.7:4711"}, "198.51.100.7"},
		{"IPv6 proxy, mapped IPv4 client", "fd00::1", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"garbage a proxy wrote: the last proxy stands for the rest", "127.0.0.1", []string{"198.51.100.7, unknown, 10.0.0.2"}, "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientAddr(netip.MustParseAddr(tt.peer), tt.forwarded, trusted); got.String() != tt.want {
				t.Errorf("clientAddr(%s, %q) = %s, want %s", tt.peer, tt.forwarded, got, tt.want)
			}
		})
	}
}
