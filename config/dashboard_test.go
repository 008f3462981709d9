package config

import (
	"strings"
	"testing"
)

const goodToken = "0123456789abcdef0123456789abcdef"

func TestDashboardTokenProblemsAreReportedAtTheirLine(t *testing.T) {
	tests := []struct {
		name string
		f    fixture
		line int
		msg  string
		hint string
	}{
		{"token too short", fixture{tail: "    dashboard_token: short-secret\n"},
			11, "merchants[0].dashboard_token: is 12 characters, must be at least 32", "openssl rand"},
		{"token shared by two merchants", fixture{tail: "    dashboard_token: " + goodToken + "\n" +
			"  - id: b\n    x_user_id: \"2\"\n    currency: USD\n    dashboard_token: " + goodToken + "\n"},
			15, "merchants[1].dashboard_token: is the same as the token at line 11", "its own token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, tt.f.String(), noEnv)
			for _, p := range ps {
				if p.Line == tt.line && strings.Contains(p.Message, tt.msg) && strings.Contains(p.Hint, tt.hint) {
					if strings.Contains(p.Message, goodToken) || strings.Contains(p.Message, "short-secret") {
						t.Errorf("problem shows the token: %s", p.Message)
					}
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q with hint %q; got:\n%s",
				tt.line, tt.msg, tt.hint, (&Problems{File: "f.yaml", List: ps}).Error())
		})
	}
}

func TestDashboardTokenIsOptionalAndReadFromTheEnvironment(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "ACME_DASHBOARD_TOKEN" {
			return goodToken, true
		}
		return "", false
	}
	for _, tt := range []struct {
		name, tail string
		getenv     func(string) (string, bool)
		want       string
	}{
		{"absent", "", noEnv, ""},
		{"empty default", "    dashboard_token: \"${ACME_DASHBOARD_TOKEN:-}\"\n", noEnv, ""},
		{"from the environment", "    dashboard_token: \"${ACME_DASHBOARD_TOKEN:-}\"\n", env, goodToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.yaml", []byte(fixture{tail: tt.tail}.String()), tt.getenv)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Merchants[0].DashboardToken; got != tt.want {
				t.Errorf("dashboard_token = %q, want %q", got, tt.want)
			}
		})
	}
}
