package config

import "strings"

// Metrics is the Prometheus endpoint. Path starts with "/" and is not one
// of hashcart's own routes; Token, when set, must be sent as
// "Authorization: Bearer <token>".
type Metrics struct {
	Enabled bool   `yaml:"enabled"`
	Path    string `yaml:"path"`
	Token   string `yaml:"token"`
}

func (v *validator) metrics(m Metrics) {
	if !m.Enabled {
		return
	}
	if v.required("metrics.path", m.Path, "e.g. /metrics") && !strings.HasPrefix(m.Path, "/") {
		v.add("metrics.path", "write a path such as /metrics", "%q does not start with /", m.Path)
	}
	switch m.Path {
	case "/healthz", "/readyz":
		v.add("metrics.path", "choose another path, such as /metrics", "%q is already served by hashcart", m.Path)
	}
}
