package xsim

import (
	"strconv"
	"time"
)

// twitterEpochMS is the snowflake epoch X uses (2010-11-04T01:42:54.657Z).
const twitterEpochMS = 1288834974657

// snowflakes hands out increasing, unique, snowflake-like decimal ids.
// It is not safe for concurrent use; the Server guards it with its mutex.
type snowflakes struct {
	last int64
}

// next returns an id derived from now as X derives them (milliseconds since
// the X epoch shifted left by 22 bits) and bumped past the previous id, so ids
// stay strictly increasing even when an injected clock stands still.
func (g *snowflakes) next(now time.Time) string {
	ms := max(now.UnixMilli()-twitterEpochMS, 0)
	id := ms << 22
	if id <= g.last {
		id = g.last + 1
	}
	g.last = id
	return strconv.FormatInt(id, 10)
}
