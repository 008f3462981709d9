package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ByteSize is a count of bytes written in YAML as a whole number with an
// optional unit: "1048576", "512KiB", "1MiB", "1MB". KiB, MiB, GiB and TiB
// are powers of 1024; KB, MB, GB and TB are powers of 1000; B is bytes. Units
// are case-insensitive and may follow a space.
type ByteSize int64

// byteUnits maps upper-cased unit names to their size in bytes.
var byteUnits = map[string]int64{
	"":    1,
	"B":   1,
	"KB":  1000,
	"MB":  1000 * 1000,
	"GB":  1000 * 1000 * 1000,
	"TB":  1000 * 1000 * 1000 * 1000,
	"KIB": 1 << 10,
	"MIB": 1 << 20,
	"GIB": 1 << 30,
	"TIB": 1 << 40,
}

// ParseByteSize reads a size such as "1MiB", "512 KiB", "1MB" or "1048576".
// It rejects negative, fractional and overflowing sizes and unknown units.
func ParseByteSize(s string) (ByteSize, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	unit, ok := byteUnits[strings.ToUpper(strings.TrimLeft(s[i:], " "))]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit", s)
	}
	if n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return ByteSize(n * unit), nil
}

// UnmarshalYAML reads a size from a scalar node, as ParseByteSize does.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a size such as 1MiB, got a %s", kindName(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// String writes b in the largest binary unit that divides it exactly:
// "1MiB", "512KiB", "1000B". ParseByteSize reads it back to the same value.
func (b ByteSize) String() string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.size == 0 {
			return strconv.FormatInt(int64(b)/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// MarshalYAML writes b as String does.
func (b ByteSize) MarshalYAML() (any, error) {
	return b.String(), nil
}
