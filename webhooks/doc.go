// Package webhooks adapts inbound HTTP to hashcart's domain: the X Account
// Activity webhook (CRC challenge and signed event deliveries) and, later,
// payment providers' webhooks. It is the only place that knows Fiber;
// every decision it takes is delegated to domain packages.
package webhooks
