package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The committed config.schema.json is what the config types generate today.
func TestCommittedSchemaIsCurrent(t *testing.T) {
	want, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	got := readFile(t, "../"+SchemaFile)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the config types: run `go run ./cmd/hashcart schema` at the repository root and commit the file", SchemaFile)
	}
}

func TestExampleConfigPointsEditorsAtTheSchema(t *testing.T) {
	first, _, _ := strings.Cut(string(readFile(t, "../config.example.yaml")), "\n")
	if first != "# yaml-language-server: $schema=./"+SchemaFile {
		t.Fatalf("config.example.yaml starts with %q, want the yaml-language-server $schema line", first)
	}
}

// The schema accepts the example as shipped and refuses mistakes that
// `hashcart check` refuses too, so an editor flags them as the merchant
// types. Each case changes one line of the example.
func TestSchemaValidatesTheExampleAndFlagsMistakes(t *testing.T) {
	var schema map[string]any
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	example := string(readFile(t, "../config.example.yaml"))
	noEnv := func(string) (string, bool) { return "", false }
	cases := []struct {
		name, old, new string
		valid          bool
	}{
		{"example as shipped", "", "", true},
		{"unknown key", "currency: USD", "currency: USD\n    colour: red", false},
		{"driver not in the enum", `driver: "${HASHCART_DB_DRIVER:-sqlite}"`, `driver: mysql`, false},
		{"driver from the environment", `driver: "${HASHCART_DB_DRIVER:-sqlite}"`, `driver: "${DRIVER}"`, true},
		{"price with a symbol", `price: "25.00"`, `price: "$25.00"`, false},
		{"negative stock", `stock: 200`, `stock: -1`, false},
		{"stock not a number", `stock: 200`, `stock: lots`, false},
		{"duration without unit", `hold: 15m`, `hold: 15`, false},
		{"api_version not in the enum", `api_version: "2"`, `api_version: "3"`, false},
		{"lower-case currency", `currency: USD`, `currency: usd`, false},
		{"unquoted user id", `x_user_id: "2244994945"`, `x_user_id: 2244994945`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := example
			if tc.old != "" {
				if !strings.Contains(src, tc.old) {
					t.Fatalf("example has no %q", tc.old)
				}
				src = strings.Replace(src, tc.old, tc.new, 1)
			}
			var doc any
			if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
				t.Fatal(err)
			}
			// As JSON, the way an editor's validator sees it.
			j, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			_ = json.Unmarshal(j, &v)
			errs := validate(schema, schema, v, "")
			if tc.valid && len(errs) > 0 {
				t.Fatalf("schema refuses a valid file: %v", errs)
			}
			if !tc.valid && len(errs) == 0 {
				t.Fatalf("schema accepts the mistake %q", tc.new)
			}
			if _, err := Parse("x.yaml", []byte(src), noEnv); (err == nil) != tc.valid && !strings.Contains(tc.new, "${") {
				t.Fatalf("hashcart check disagrees with the schema (valid=%v): %v", tc.valid, err)
			}
		})
	}
}

// validate checks v against the subset of JSON Schema draft-07 that
// Schema emits: $ref, anyOf, type, enum, const, pattern, minimum,
// properties, additionalProperties, required, items. It returns the
// problems found.
func validate(root, s map[string]any, v any, at string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/definitions/")
		return validate(root, root["definitions"].(map[string]any)[name].(map[string]any), v, at)
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if any_, ok := s["anyOf"].([]any); ok {
		okOne := false
		for _, sub := range any_ {
			if len(validate(root, sub.(map[string]any), v, at)) == 0 {
				okOne = true
				break
			}
		}
		if !okOne {
			bad("matches none of anyOf")
		}
	}
	if typ, ok := s["type"]; ok {
		var types []string
		switch x := typ.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, y := range x {
				types = append(types, y.(string))
			}
		}
		if !slices.Contains(types, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(types, "number")) {
			bad("is %s, want %v", jsonType(v), types)
			return errs
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		bad("%v not in %v", v, enum)
	}
	if c, ok := s["const"]; ok && c != v {
		bad("%v is not %v", v, c)
	}
	if p, ok := s["pattern"].(string); ok {
		if str, ok := v.(string); ok && !regexp.MustCompile(p).MatchString(str) {
			bad("%q does not match %s", str, p)
		}
	}
	if m, ok := s["minimum"].(float64); ok {
		if n, ok := v.(float64); ok && n < m {
			bad("%v is below %v", n, m)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		for k, val := range obj {
			if ps, ok := props[k]; ok {
				errs = append(errs, validate(root, ps.(map[string]any), val, at+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("unknown key %q", k)
				}
			case map[string]any:
				errs = append(errs, validate(root, ap, val, at+"."+k)...)
			}
		}
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					bad("%s is required", r)
				}
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range arr {
				errs = append(errs, validate(root, items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
