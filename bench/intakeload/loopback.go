package main

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
)

// loopbackHostPort checks that hostport names a loopback IP literal (no
// names, which could resolve elsewhere) with a port.
func loopbackHostPort(hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%w: %q is not host:port", errUsage, hostport)
	}
	if port == "" {
		return fmt.Errorf("%w: %q has no port", errUsage, hostport)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q is not a loopback address such as 127.0.0.1", errUsage, host)
	}
	return nil
}

// loopbackURL checks that raw is an http URL to a loopback IP literal.
func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%w: --url %q must be http://127.0.0.1:PORT/path", errUsage, raw)
	}
	return loopbackHostPort(u.Host)
}
