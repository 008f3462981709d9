package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hashcart/hashcart/config"
)

// schemaCmd writes the configuration's JSON Schema, generated from the
// config types, to --out (default config.schema.json; "-" for stdout).
// Run at the repository root after changing a config struct:
//
//	go run ./cmd/hashcart schema
func schemaCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	out := fs.String("out", config.SchemaFile, `file to write; "-" writes to stdout`)
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	b, err := config.Schema()
	if err != nil {
		fmt.Fprintf(stderr, "hashcart schema: %v\n", err)
		return 1
	}
	if *out == "-" {
		_, _ = stdout.Write(b)
		return 0
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintf(stderr, "hashcart schema: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return 0
}
