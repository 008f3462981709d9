package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar value (not
// in keys) of the tree under n, in place, reporting each unset variable
// without a default and each malformed reference at its node's line.
func expandEnv(n *yaml.Node, getenv func(string) (string, bool), ps *Problems) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			expandEnv(c, getenv, ps)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			expandEnv(n.Content[i], getenv, ps)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		v, err := expandString(n.Value, getenv)
		if err != nil {
			ps.add(n.Line, err.hint, "%s", err.msg)
			return
		}
		n.Value = v
	}
}

// expandError is a problem found in one scalar by expandString.
type expandError struct{ msg, hint string }

// expandString expands the references in s. A default applies when the
// variable is unset or empty, as in the shell. "$${" is a literal "${".
func expandString(s string, getenv func(string) (string, bool)) (string, *expandError) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i]) // keeps one '$' of "$$", then the literal "{"
			b.WriteString("{")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", &expandError{
				msg:  fmt.Sprintf("unterminated ${ in %q", s[i:]),
				hint: "write ${VAR} or ${VAR:-default}; write $${ for a literal ${",
			}
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			return "", &expandError{
				msg:  fmt.Sprintf("bad environment variable name %q in ${%s}", name, ref),
				hint: "names are letters, digits and _, not starting with a digit",
			}
		}
		v, ok := getenv(name)
		switch {
		case hasDef && v == "":
			v = def
		case !ok:
			return "", &expandError{
				msg:  fmt.Sprintf("environment variable %s is not set", name),
				hint: fmt.Sprintf("set it, or give a default: ${%s:-value}", name),
			}
		}
		b.WriteString(v)
	}
}

// validEnvName reports whether name is a portable environment variable
// name: letters, digits and underscores, not starting with a digit.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
