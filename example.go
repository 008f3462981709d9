// Package hashcart holds what the binary embeds from the repository's root:
// the example configuration, which `hashcart demo` runs when given no
// --config, so the demo works from any directory.
package hashcart

import _ "embed"

// ExampleConfig is config.example.yaml as it was when the binary was built.
// It is valid with no environment variables set.
//
//go:embed config.example.yaml
var ExampleConfig []byte

// ExampleConfigName names ExampleConfig in configuration problems.
const ExampleConfigName = "config.example.yaml (built in)"
