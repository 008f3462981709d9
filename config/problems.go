package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one mistake in a configuration file: the 1-based line of the
// offending YAML node, what is wrong, and how to fix it (Hint may be empty).
type Problem struct {
	Line    int
	Message string
	Hint    string
}

// String renders p as "line: message (hint)".
func (p Problem) String() string {
	if p.Hint == "" {
		return fmt.Sprintf("%d: %s", p.Line, p.Message)
	}
	return fmt.Sprintf("%d: %s (%s)", p.Line, p.Message, p.Hint)
}

// Problems is the error Load and Parse return when a configuration file is
// not usable. List holds every problem found, ordered by line, and is never
// empty.
type Problems struct {
	File string
	List []Problem
}

// Error renders every problem on its own line as "file:line: message (hint)".
func (ps *Problems) Error() string {
	var b strings.Builder
	for i, p := range ps.List {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(ps.File)
		b.WriteByte(':')
		b.WriteString(p.String())
	}
	return b.String()
}

// add records a problem at line.
func (ps *Problems) add(line int, hint, format string, args ...any) {
	ps.List = append(ps.List, Problem{Line: line, Message: fmt.Sprintf(format, args...), Hint: hint})
}

// sort orders the problems by line, keeping the order they were found in
// for problems on the same line.
func (ps *Problems) sort() {
	sort.SliceStable(ps.List, func(i, j int) bool { return ps.List[i].Line < ps.List[j].Line })
}
