// Command intakeload measures hashcart's webhook intake: it drives signed X
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
//
// Every run is bounded (warm-up + duration + timeout) and only loopback
// targets are accepted.
package main
