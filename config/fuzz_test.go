package config

import (
	"errors"
	"testing"
)

// FuzzParse checks that no input makes Parse panic or hang, and that it
// always returns either a Config or a *Problems whose every problem has a
// line inside the file.
func FuzzParse(f *testing.F) {
	f.Add(readFile(f, "../config.example.yaml"))
	f.Add([]byte(fixture{}.String()))
	f.Add([]byte(fixture{tail: "        variants: &v [*v]\n      - &o { <<: *o, id: o2 }\n"}.String()))
	f.Add([]byte(fixture{tail: "        stock: lots\n        ship_to: [UK]\n"}.String()))
	f.Add([]byte("x: { consumer_secret: \"${S:-a}\" }\nserver: { max_body: 99999999999TiB }\n"))
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a]\nmerchants: [*b, *b]\n"))
	f.Add([]byte("- 1\n"))
	f.Add([]byte("x:\n\tbad: tab\n"))
	env := envOf(map[string]string{"S": "v"})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data, env)
		if err == nil {
			if c == nil {
				t.Fatal("nil Config and nil error")
			}
			_ = c.Summary()
			return
		}
		var ps *Problems
		if !errors.As(err, &ps) {
			t.Fatalf("error is %T: %v", err, err)
		}
		if len(ps.List) == 0 {
			t.Fatal("empty *Problems")
		}
		lines := len(yamlLines(data))
		for _, p := range ps.List {
			if p.Line < 1 || p.Line > lines {
				t.Fatalf("problem at line %d of a %d-line file: %v", p.Line, lines, p)
			}
		}
	})
}
