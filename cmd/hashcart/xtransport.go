package main

import (
	"net/http"
	"time"
)

// xTransport is the HTTP transport for requests to X. The outbox sends
// up to outbox.workers × 8 requests at once to one host; Go's default
// transport keeps only 2 idle connections per host, so every other request
// would open (and the server accept) a new TCP connection, and with TLS
// also handshake.
func xTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	return t
}
