// Command hashcart runs the hashcart service: it turns replies to a
// merchant's posts on X into private checkout links, orders and deliveries.
//
//	hashcart demo    [--config FILE] [--data DIR] [--listen ADDR]   try it in a browser
//	hashcart serve   [--config FILE]   run the service
//	hashcart check   [--config FILE]   validate the configuration
//	hashcart keys new|rotate           manage the data key
//	hashcart webhook register|list|subscribe|unsubscribe|crc|delete
//	                                   set up X's Account Activity API
//	hashcart schema  [--out FILE]      write the configuration's JSON Schema
//	hashcart try     [--config FILE] [--as @h] [--post ID] [--db] TEXT  dry-run a reply
//	hashcart version                   print the version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `hashcart turns replies to a merchant's posts on X into checkout links and orders.

Usage:
  hashcart demo    [--data DIR] [--listen ADDR] [--config FILE]
                                     try it in one command: the service, a simulated X
                                     and sandbox payments, with a page to shop from
  hashcart serve   [--config FILE]   run the service (webhooks, workers, checkout)
  hashcart check   [--config FILE]   validate the configuration and report every problem
  hashcart webhook register|list|subscribe|unsubscribe|crc|delete [--config FILE]
                                     set up X's Account Activity webhook (hashcart webhook help)
  hashcart schema  [--out FILE]      write the config's JSON Schema (default config.schema.json)
  hashcart try     [--config FILE] [--as @handle] [--post ID] [--db] "@acme #BuyNow red x2"
                                     show what the bot would answer, without sending or selling
  hashcart version                   print the version

--config defaults to $HASHCART_CONFIG, else config.yaml (for demo: the built-in
config.example.yaml).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		setGCPercent()
		return serveCmd(ctx, rest, stderr)
	case "demo":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		setGCPercent()
		return demoCmd(ctx, rest, stdout, stderr)
	case "check":
		return checkCmd(rest, stdout, stderr)
	case "keys":
		return keysCmd(rest, stdout, stderr)
	case "orders":
		return ordersCmd(rest, stdout, stderr)
	case "webhook":
		return webhookCmd(rest, stdout, stderr)
	case "schema":
		return schemaCmd(rest, stdout, stderr)
	case "try":
		return tryCmd(rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "hashcart %s\n", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hashcart: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// configFlag registers --config on fs with the documented default.
func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("HASHCART_CONFIG")
	if def == "" {
		def = "config.yaml"
	}
	return fs.String("config", def, "configuration file (env HASHCART_CONFIG)")
}

func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) bool {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hashcart %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false
	}
	return true
}

// serverGCPercent is the garbage collector's target for the server: the
// heap may grow to 5 times the live data between collections (Go's default
// is 2 times). A server's live heap is small (tens of MB) and every
// delivery allocates, so collections ran often, and their work fell on the
// goroutines that acknowledge deliveries. Measured on the 2-core machine,
// intake at 5,000 deliveries/s on SQLite: p99 6.5-8.4 ms against 8.6-11.3
// ms at the default (6 runs each, alternated), peak RSS 65-68 MB against
// 53-60 MB. The GOGC environment variable, when set, wins.
const serverGCPercent = 400

func setGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
}
