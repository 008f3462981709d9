package main

import (
	"fmt"
	"io"
	"time"

	"github.com/hashcart/hashcart/vault"
)

// keysCmd manages data keys. "new" prints a key to add to
// HASHCART_DATA_KEY: append it after the current keys (newest last), so
// new writes use it and older rows still read.
func keysCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "new" || len(args) > 2 {
		fmt.Fprintln(stderr, "usage: hashcart keys new [ID]")
		return 2
	}
	id := "k" + time.Now().UTC().Format("20060102")
	if len(args) == 2 {
		id = args[1]
	}
	spec, err := vault.Generate(id)
	if err != nil {
		fmt.Fprintln(stderr, "hashcart keys new:", err)
		return 1
	}
	fmt.Fprintln(stdout, spec)
	return 0
}
