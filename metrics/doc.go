// Package metrics is hashcart's Prometheus instrumentation. A Metrics owns
// its registry (no global state) and offers small hooks that the wiring in
// cmd/hashcart hands to the domain packages as plain funcs or observers, so
// that those packages never import Prometheus.
//
// Counters are this process's since it started; the gauges read from the
// database (queue depth, inbox lag, recovered carts) are the same on every
// instance sharing it.
package metrics
