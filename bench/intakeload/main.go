package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  intakeload bare  --listen 127.0.0.1:PORT --secret S
  intakeload load  --url http://127.0.0.1:PORT/webhooks/x --secret S --for-user-id ID [flags]
  intakeload table [--bare LABEL] < results.jsonl
  intakeload pipeline --hashcart BIN [--driver sqlite|postgres --dsn DSN] [flags]
  intakeload pipeline-table [--target 100ms] < results.jsonl
  intakeload page --hashcart BIN [--driver sqlite|postgres --dsn DSN] [flags]
  intakeload page-table [--target 5ms] < results.jsonl
  intakeload calibrate [--dir DIR]
run "intakeload COMMAND -h" for the flags of a command`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the process exit code: 0 on
// success, 2 for a usage mistake, 1 for any other failure.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "bare":
		err = runBare(ctx, args[1:], stderr, log)
	case "load":
		err = runLoad(ctx, args[1:], stdout, stderr)
	case "pipeline":
		err = runPipeline(ctx, args[1:], stdout, stderr, log)
	case "pipeline-table":
		err = runPipelineTable(args[1:], stdin, stdout, stderr)
	case "page":
		err = runPage(ctx, args[1:], stdout, stderr, log)
	case "page-table":
		err = runPageTable(args[1:], stdin, stdout, stderr)
	case "table":
		err = runTable(args[1:], stdin, stdout, stderr)
	case "calibrate":
		err = runCalibrate(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n%s\n", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "intakeload %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "intakeload %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage marks a mistake in the command line.
var errUsage = errors.New("usage")
