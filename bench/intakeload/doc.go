// Command intakeload measures hashcart's webhook intake and bot pipeline: it drives signed X
// Account Activity deliveries at a running server on the loopback interface
// and reports events per second and acknowledgement latency percentiles.
//
// Subcommands:
//
//	intakeload bare --listen 127.0.0.1:PORT --secret S
//	    serves a bare Fiber handler on POST /webhooks/x that only verifies
//	    the signature and answers 200: the reference a durable intake is
//	    compared with.
//	intakeload load --url URL --secret S --for-user-id ID [flags]
//	    sends signed deliveries, each with unique event ids, as fast as
//	    possible (closed loop, --rate 0) or at a fixed rate (open loop),
//	    and prints one result line (and a JSON line with --json).
//	intakeload table < results.jsonl
//	    prints the JSON lines of several load runs as a Markdown table,
//	    with the ratio of each run's rate to the bare handler's.
//	intakeload pipeline --hashcart BIN [--driver sqlite|postgres --dsn DSN] [flags]
//	    starts the X simulator in this process and hashcart against it,
//	    sends signed "#BuyNow" replies at a fixed rate (one new shopper
//	    each) and reports, per event, the time from when it was due to
//	    when its DM request reached the simulator (p50/p90/p99/max, events
//	    with no DM), the webhook's acknowledgement latency, and where the
//	    time went according to the server's inbox and outbox rows.
//	intakeload pipeline-table [--target 100ms] < results.jsonl
//	    prints the JSON lines of pipeline runs as a Markdown table and
//	    judges each against the p99 target.
//
// Every run is bounded (warm-up + duration + timeout) and only loopback
// targets are accepted.
package main
