package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decodeBudget bounds the number of nodes one decode visits beyond the
// nodes written in the file, so aliases that fan out ("billion laughs")
// cannot make a small file take unbounded work. A file without aliases
// never reaches it, whatever its size.
const decodeBudget = 250_000

// decoder fills Go values from a YAML node tree by reflection, recording a
// problem for every unknown key, duplicate key and ill-typed value instead
// of stopping at the first. The keys a struct accepts come from its yaml
// tags, as yaml.v3 would read them.
type decoder struct {
	ps *Problems
	// lines maps a field path ("merchants[0].offers[1].stock") to the line
	// of its key, or of its item for list elements.
	lines map[string]int
	// bad holds the paths whose value could not be decoded, so validation
	// does not report them a second time as missing.
	bad map[string]bool
	// active holds the anchors being decoded through an alias, to stop a
	// node that contains an alias to itself.
	active map[*yaml.Node]bool
	budget int
}

// newDecoder returns a decoder for the tree under root.
func newDecoder(ps *Problems, root *yaml.Node) *decoder {
	return &decoder{
		ps:     ps,
		lines:  map[string]int{},
		bad:    map[string]bool{},
		active: map[*yaml.Node]bool{},
		budget: decodeBudget + countNodes(root),
	}
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	durationType    = reflect.TypeFor[Duration]()
	byteSizeType    = reflect.TypeFor[ByteSize]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// valueHints says how to write a value of a type that failed to decode.
var valueHints = map[reflect.Type]string{
	durationType: "use a duration such as 250ms, 15s, 15m or 1h30m",
	byteSizeType: "use a size such as 1048576, 512KiB, 1MiB or 1MB",
	timeType:     "use an RFC 3339 time such as 2026-12-01T17:00:00Z",
}

// countNodes counts the nodes written in the tree under n, not following
// aliases.
func countNodes(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// where names path for a message: "top level" for the root.
func where(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// kindName describes a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return fmt.Sprintf("value %q", n.Value)
	case yaml.AliasNode:
		return "alias"
	default:
		return "document"
	}
}

// isNull reports whether n is an explicit or implicit null (`key:`, `~`,
// `null`), which leaves the destination as it was (its default).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!null" || (n.Style == 0 && n.Value == ""))
}

// fail records that the value at path could not be decoded.
func (d *decoder) fail(n *yaml.Node, path, hint, format string, args ...any) {
	d.bad[path] = true
	d.ps.add(n.Line, hint, "%s: %s", where(path), fmt.Sprintf(format, args...))
}

// spend counts one more visit of a node and reports whether the budget
// allows it, recording one problem when the budget runs out.
func (d *decoder) spend(n *yaml.Node) bool {
	d.budget--
	if d.budget == 0 {
		d.ps.add(n.Line, "use fewer aliases", "file too complex: aliases expand to more than %d extra values", decodeBudget)
	}
	return d.budget > 0
}

// decode fills v, which must be settable, from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(n) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if d.active[n.Alias] {
			d.fail(n, path, "an alias cannot refer to a value that contains it", "alias *%s refers to itself", n.Value)
			return
		}
		d.active[n.Alias] = true
		defer delete(d.active, n.Alias)
		d.decode(n.Alias, v, path)
		return
	}
	if isNull(n) {
		return
	}
	t := v.Type()
	if v.CanAddr() && reflect.PointerTo(t).Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.fail(n, path, valueHints[t], "%v", err)
		}
		return
	}
	switch {
	case t == timeType:
		d.decodeTime(n, v, path)
		return
	case t.Kind() == reflect.Pointer:
		elem := reflect.New(t.Elem())
		d.decode(n, elem.Elem(), path)
		if !d.bad[path] {
			v.Set(elem)
		}
		return
	case t.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
		return
	case t.Kind() == reflect.Slice:
		d.decodeSlice(n, v, path)
		return
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		d.decodeMap(n, v, path)
		return
	case t.Kind() == reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "", "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
		return
	}
	d.decodeScalar(n, v, path)
}

// decodeScalar fills a string, number or boolean. It reads the node's text
// as written, so a price of 25.10 keeps its digits and an x_user_id written
// without quotes is still the exact digits.
func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	kind := v.Kind()
	want := map[reflect.Kind]string{
		reflect.String: "a string",
		reflect.Bool:   "true or false",
	}[kind]
	if want == "" {
		switch {
		case v.CanInt(), v.CanUint():
			want = "a whole number"
		case v.CanFloat():
			want = "a number"
		default:
			d.fail(n, path, "", "cannot decode into %s", v.Type())
			return
		}
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "", "expected %s, got a %s", want, kindName(n))
		return
	}
	s := n.Value
	var err error
	switch {
	case kind == reflect.String:
		v.SetString(s)
	case kind == reflect.Bool:
		var b bool
		if b, err = strconv.ParseBool(strings.ToLower(s)); err == nil {
			v.SetBool(b)
		}
	case v.CanInt():
		var i int64
		if i, err = strconv.ParseInt(s, 10, v.Type().Bits()); err == nil {
			v.SetInt(i)
		}
	case v.CanUint():
		var u uint64
		if u, err = strconv.ParseUint(s, 10, v.Type().Bits()); err == nil {
			v.SetUint(u)
		}
	case v.CanFloat():
		var f float64
		if f, err = strconv.ParseFloat(s, v.Type().Bits()); err == nil {
			v.SetFloat(f)
		}
	}
	if err != nil {
		d.fail(n, path, "", "expected %s, got %q", want, s)
	}
}

func (d *decoder) decodeTime(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, valueHints[timeType], "expected a time, got a %s", kindName(n))
		return
	}
	t, err := time.Parse(time.RFC3339Nano, n.Value)
	if err != nil {
		d.fail(n, path, valueHints[timeType], "%q is not a time with a zone", n.Value)
		return
	}
	v.Set(reflect.ValueOf(t))
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "write a list: [a, b] or one `- item` per line", "expected a list, got a %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		d.decode(item, s.Index(i), p)
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "", "expected a mapping, got a %s", kindName(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, kv := range d.pairs(n, path) {
		p := join(path, kv.key.Value)
		d.lines[p] = kv.key.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(kv.val, elem, p)
		m.SetMapIndex(reflect.ValueOf(kv.key.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "write `key: value` pairs, one per line or as { key: value }", "expected a mapping, got a %s", kindName(n))
		return
	}
	fields, names := yamlFields(v.Type())
	for _, kv := range d.pairs(n, path) {
		key := kv.key.Value
		index, ok := fields[key]
		if !ok {
			d.ps.add(kv.key.Line, unknownKeyHint(key, names), "%s: unknown key %q", where(path), key)
			continue
		}
		p := join(path, key)
		d.lines[p] = kv.key.Line
		d.decode(kv.val, v.FieldByIndex(index), p)
	}
}

// pair is one key and its value in a mapping.
type pair struct{ key, val *yaml.Node }

// pairs lists the key/value pairs of mapping n in order, applying merge
// keys (<<: *anchor; the mapping's own keys win) and reporting duplicate
// and non-scalar keys.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var own, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.ps.add(k.Line, "keys are plain names such as `stock`", "%s: a key must be a name, not a %s", where(path), kindName(k))
			continue
		}
		if k.Value == "<<" && k.Style == 0 {
			merged = append(merged, d.mergePairs(val, path)...)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.ps.add(k.Line, "remove one of them", "%s: key %q appears twice (first at line %d)", where(path), k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		own = append(own, pair{k, val})
	}
	for _, kv := range merged {
		if _, ok := seen[kv.key.Value]; !ok {
			seen[kv.key.Value] = kv.key.Line
			own = append(own, kv)
		}
	}
	return own
}

// mergePairs returns the pairs a merge key's value brings in: one mapping
// (usually an alias) or a list of them, earlier ones winning.
func (d *decoder) mergePairs(n *yaml.Node, path string) []pair {
	if !d.spend(n) {
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		if d.active[n.Alias] {
			d.ps.add(n.Line, "an alias cannot refer to a value that contains it", "%s: alias *%s refers to itself", where(path), n.Value)
			return nil
		}
		d.active[n.Alias] = true
		defer delete(d.active, n.Alias)
		return d.mergePairs(n.Alias, path)
	case yaml.MappingNode:
		return d.pairs(n, path)
	case yaml.SequenceNode:
		var all []pair
		for _, item := range n.Content {
			if item.Kind == yaml.SequenceNode {
				d.ps.add(item.Line, "", "%s: << takes a mapping or a list of mappings", where(path))
				continue
			}
			all = append(all, d.mergePairs(item, path)...)
		}
		return all
	}
	d.ps.add(n.Line, "", "%s: << takes a mapping or a list of mappings, not a %s", where(path), kindName(n))
	return nil
}

// yamlFields returns the keys a struct type accepts, from its yaml tags as
// yaml.v3 reads them (lower-cased field name when untagged, "-" skipped,
// ",inline" structs flattened), with each key's field index, and the keys
// in declaration order.
func yamlFields(t reflect.Type) (map[string][]int, []string) {
	fields := map[string][]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			inner, innerNames := yamlFields(f.Type)
			for _, k := range innerNames {
				fields[k] = append([]int{i}, inner[k]...)
				names = append(names, k)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Index
		names = append(names, name)
	}
	return fields, names
}

// unknownKeyHint suggests the known key closest to key, or lists the known
// keys when none is close.
func unknownKeyHint(key string, known []string) string {
	best, bestDist := "", -1
	for _, k := range known {
		dist := editDistance(strings.ToLower(key), k)
		if bestDist < 0 || dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" && (bestDist <= 2 || bestDist <= len(key)/3) {
		return fmt.Sprintf("did you mean `%s`?", best)
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return "known keys here: " + strings.Join(sorted, ", ")
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
