package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration string:
// "15m", "10s", "250ms", "1h30m". A bare number such as 15 is rejected
// because its unit would be a guess.
type Duration struct{ time.Duration }

// UnmarshalYAML reads a Go duration string from a scalar node.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 15m, got a %s", kindName(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration", n.Value)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes d as a Go duration string ("15m0s"), which
// UnmarshalYAML reads back to the same value.
func (d Duration) MarshalYAML() (any, error) {
	return d.Duration.String(), nil
}
