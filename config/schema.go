package config

import (
	"bytes"
	"embed"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"sort"
	"strings"
)

// SchemaFile is where the committed schema lives, relative to the
// repository root; `hashcart schema` writes it.
const SchemaFile = "config.schema.json"

// sources are this package's Go files: the schema's descriptions are their
// doc comments, so a field documented in Go is documented in the editor
// without a second copy to keep in step.
//
//go:embed *.go
var sources embed.FS

// envRef matches a value that reads the environment: ${VAR} or
// ${VAR:-default}, anywhere in the string. Such a value is checked after
// expansion by `hashcart check`, so the schema lets it through.
const envRef = `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`

// schemaRule narrows a key beyond its Go type: allowed values, a pattern
// for strings, required keys of an object, a lower bound for numbers.
type schemaRule struct {
	enum     []string
	pattern  string // anchored; a ${VAR} value is always allowed too
	required []string
	minimum  *int
}

func minOf(n int) *int { return &n }

// schemaRules are keyed by path: "x.api_version", "merchants[].offers[]".
// They repeat what validate.go checks that a schema can express; the test
// that validates config.example.yaml against the schema keeps them honest.
var schemaRules = map[string]schemaRule{
	"":                           {required: []string{"x"}},
	"server.page_concurrency":    {minimum: minOf(0)},
	"storage.driver":             {enum: []string{"sqlite", "postgres"}},
	"storage.max_open_conns":     {minimum: minOf(1)},
	"x":                          {required: []string{"consumer_secret"}},
	"x.api_version":              {enum: []string{"2", "1.1"}},
	"x.webhook_path":             {pattern: `/.*`},
	"payments.provider":          {enum: []string{"sandbox", "stripe"}},
	"intake.workers":             {minimum: minOf(1)},
	"intake.batch":               {minimum: minOf(1)},
	"intake.max_attempts":        {minimum: minOf(1)},
	"outbox.workers":             {minimum: minOf(1)},
	"outbox.batch":               {minimum: minOf(1)},
	"outbox.concurrency":         {minimum: minOf(1)},
	"outbox.per_account":         {minimum: minOf(1)},
	"outbox.per_app":             {minimum: minOf(1)},
	"reminders.quiet_hours":      {pattern: `([0-9]{1,2}:[0-9]{2} *- *[0-9]{1,2}:[0-9]{2})?`},
	"log.format":                 {enum: []string{"text", "json"}},
	"log.level":                  {enum: []string{"debug", "info", "warn", "error"}},
	"merchants[]":                {required: []string{"id", "x_user_id", "currency"}},
	"merchants[].id":             {pattern: `[A-Za-z0-9][A-Za-z0-9_-]*`},
	"merchants[].x_user_id":      {pattern: `[0-9]+`},
	"merchants[].currency":       {pattern: `[A-Z]{3}`},
	"merchants[].offers[]":       {required: []string{"id", "title", "price"}},
	"merchants[].offers[].id":    {pattern: `[A-Za-z0-9][A-Za-z0-9_-]*`},
	"merchants[].offers[].price": {pattern: `[0-9]+(\.[0-9]+)?`},
	"merchants[].offers[].stock": {minimum: minOf(0)},
	"merchants[].offers[].per_customer_limit": {minimum: minOf(0)},
	"merchants[].offers[].post_ids[]":         {pattern: `[0-9]+`},
	"merchants[].offers[].hashtags[]":         {pattern: `#.+`},
	"merchants[].offers[].cart_tags[]":        {pattern: `#.+`},
	"merchants[].offers[].ship_to[]":          {pattern: `[A-Z]{2}`},
	"merchants[].offers[].variants[]":         {required: []string{"name"}},
	"merchants[].offers[].variants[].stock":   {minimum: minOf(0)},
}

// Schema returns the JSON Schema (draft-07) of the configuration file,
// generated from the Config types: keys from their yaml tags, descriptions
// from their doc comments, and the rules above. Every scalar may also be a
// ${VAR} reference. The output is stable (keys sorted, indented), so the
// committed file changes only when the configuration does.
func Schema() ([]byte, error) {
	docs, err := fieldDocs()
	if err != nil {
		return nil, err
	}
	g := &schemaGen{docs: docs}
	root := g.of(reflect.TypeOf(Config{}), "")
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["$id"] = "https://github.com/hashcart/hashcart/" + SchemaFile
	root["title"] = "hashcart configuration"
	root["definitions"] = obj{
		"env": obj{"type": "string", "pattern": envRef,
			"description": "${VAR} or ${VAR:-default}: read from the environment when hashcart starts; checked after expansion by `hashcart check`."},
		"duration": obj{
			"anyOf": []any{
				obj{"type": "string", "pattern": `^[-+]?((([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+|0)$|` + envRef},
				obj{"const": 0},
			},
			"description": "A Go duration: 250ms, 15s, 15m, 1h30m (a bare number other than 0 has no unit and is refused).",
			"examples":    []string{"250ms", "15s", "15m", "1h30m"},
		},
	}
	root["description"] = "Configuration of hashcart (config.yaml). Generated from the Go types in config/ by `hashcart schema`; do not edit by hand."
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type schemaGen struct {
	docs map[string]string // "Type.Field" or "Type" -> doc text
}

type obj = map[string]any

// of returns the schema of a value of type t found at path.
func (g *schemaGen) of(t reflect.Type, path string) obj {
	rule := schemaRules[path]
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	withEnv := func(s obj) obj {
		return obj{"anyOf": []any{s, obj{"$ref": "#/definitions/env"}}}
	}
	switch {
	case t == durationType:
		return obj{"anyOf": []any{obj{"$ref": "#/definitions/duration"}}}
	case t == byteSizeType:
		return withEnv(obj{"type": []string{"integer", "string"}, "pattern": `^[0-9]+ ?(([kKmMgGtT][iI]?)?[bB])?$`, "minimum": 1,
			"examples": []string{"1MiB", "512KiB", "1048576"}})
	case t == timeType:
		return withEnv(obj{"type": "string", "format": "date-time"})
	}
	switch t.Kind() {
	case reflect.Struct:
		props := obj{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "-" || !f.IsExported() {
				continue
			}
			if key == "" {
				key = strings.ToLower(f.Name)
			}
			p := key
			if path != "" {
				p = path + "." + key
			}
			s := g.of(f.Type, p)
			if d := g.docs[t.Name()+"."+f.Name]; d != "" {
				s["description"] = d
			}
			props[key] = s
		}
		s := obj{"type": "object", "properties": props, "additionalProperties": false}
		if d := g.docs[t.Name()]; d != "" {
			s["description"] = d
		}
		if len(rule.required) > 0 {
			s["required"] = rule.required
		}
		return s
	case reflect.Slice:
		return obj{"type": "array", "items": g.of(t.Elem(), path+"[]")}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": g.of(t.Elem(), path+"{}")}
	case reflect.String:
		switch {
		case len(rule.enum) > 0:
			return withEnv(obj{"enum": rule.enum})
		case rule.pattern != "":
			// Unquoted numbers are read as text (x_user_id: 2244994945).
			return obj{"type": []string{"string", "number"}, "pattern": "^(" + rule.pattern + ")$|" + envRef}
		}
		return obj{"type": []string{"string", "number", "boolean"}}
	case reflect.Bool:
		return withEnv(obj{"type": "boolean"})
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s := obj{"type": "integer"}
		if rule.minimum != nil {
			s["minimum"] = *rule.minimum
		}
		return withEnv(s)
	case reflect.Float32, reflect.Float64:
		return withEnv(obj{"type": "number"})
	}
	return obj{}
}

// fieldDocs reads the doc comments of the package's types and their
// fields from its embedded sources.
func fieldDocs() (map[string]string, error) {
	entries, err := sources.ReadDir(".")
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	docs := map[string]string{}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), "_test.go") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		src, err := sources.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				text := gd.Doc
				if ts.Doc != nil {
					text = ts.Doc
				}
				docs[ts.Name.Name] = clean(text)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, fld := range st.Fields.List {
					c := fld.Doc
					if c == nil {
						c = fld.Comment
					}
					for _, n := range fld.Names {
						docs[ts.Name.Name+"."+n.Name] = clean(c)
					}
				}
			}
		}
	}
	return docs, nil
}

// clean turns a doc comment into one paragraph of text.
func clean(c *ast.CommentGroup) string {
	if c == nil {
		return ""
	}
	return strings.Join(strings.Fields(c.Text()), " ")
}
