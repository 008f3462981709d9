package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/hashcart/hashcart/config"
)

// checkCmd validates the configuration: every problem as file:line:
// message (hint) and exit 1, or a one-line summary and exit 0.
func checkCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	path := configFlag(fs)
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if _, err := templatesFor(cfg); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, cfg.Summary())
	return 0
}
