package config

import (
	"strings"
	"testing"
)

func TestMetricsSection(t *testing.T) {
	tests := []struct {
		name    string
		tail    string
		want    Metrics
		problem string // empty: valid
	}{
		{"defaults", "", Metrics{Enabled: true, Path: "/metrics"}, ""},
		{"token and path", "metrics: { path: /ops/metrics, token: s3cret }\n", Metrics{Enabled: true, Path: "/ops/metrics", Token: "s3cret"}, ""},
		{"off", "metrics: { enabled: false }\n", Metrics{Path: "/metrics"}, ""},
		{"relative path", "metrics: { path: metrics }\n", Metrics{}, `metrics.path: "metrics" does not start with /`},
		{"taken path", "metrics: { path: /readyz }\n", Metrics{}, `metrics.path: "/readyz" is already served by hashcart`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.yaml", []byte(fixture{tail: tt.tail}.String()), noEnv)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("err = %v, want %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Metrics != tt.want {
				t.Errorf("metrics = %+v, want %+v", c.Metrics, tt.want)
			}
		})
	}
}
