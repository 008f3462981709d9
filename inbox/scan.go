package inbox

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// splitFast is Split for the deliveries X sends: a valid JSON object whose
// keys need no unescaping and appear once. It scans the body once to
// validate it and once to find the spans it needs, where encoding/json
// decoded it five times over (a fifth of the webhook's CPU at full load).
// ok is false for anything else, and Split then decodes the body the slow
// way, so both give the same answer for every input (FuzzSplit checks).
func splitFast(body []byte, receivedAt time.Time) (forUserID string, events []Event, ok bool) {
	if !json.Valid(body) {
		return "", nil, false
	}
	// Payloads and users outlive the request; the server may reuse body.
	body = bytes.Clone(body)
	type member struct{ key, val []byte }
	members := make([]member, 0, 4)
	if !eachMember(body, func(key, val []byte) bool {
		for _, m := range members {
			if bytes.Equal(m.key, key) {
				return false // the last one wins in a map: leave it to the slow way
			}
		}
		members = append(members, member{key, val})
		return true
	}) {
		return "", nil, false
	}
	var forUser, users []byte
	var arrays []member
	for _, m := range members {
		switch k := string(m.key); {
		case k == "for_user_id":
			forUser = m.val
		case k == "users":
			users = m.val
		case strings.HasSuffix(k, "_events"):
			arrays = append(arrays, m)
		}
	}
	if forUser == nil {
		return "", nil, false
	}
	forUserID, ok = plainID(forUser)
	if !ok || forUserID == "" {
		return "", nil, false
	}
	slices.SortFunc(arrays, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	for _, a := range arrays {
		kind := Kind(strings.TrimSuffix(string(a.key), "_events"))
		if kind == "direct_message" || kind == "direct_messages" {
			kind = KindDirectMessage
		}
		if a.val[0] != '[' {
			return "", nil, false
		}
		good := eachElement(a.val, func(item []byte) bool {
			if item[0] != '{' {
				return false
			}
			ev := Event{ID: fastEventID(kind, item), ForUserID: forUserID, Kind: kind, Payload: item, ReceivedAt: receivedAt}
			if kind == KindDirectMessage {
				ev.Users = users
			}
			events = append(events, ev)
			return true
		})
		if !good {
			return "", nil, false
		}
	}
	return forUserID, events, true
}

// fastEventID is eventID for an item whose id fields it can read without
// decoding: plain keys, each once, and no key that only differs from one
// of the id fields in case (encoding/json would match it).
func fastEventID(kind Kind, item []byte) string {
	paths := idFields[kind]
	if len(paths) == 0 {
		return eventID(kind, item)
	}
	var fields [3][]byte
	good := members(item, fields[:], "id_str", "id", "status")
	idStr, id, status := fields[0], fields[1], fields[2]
	if !good || (status != nil && status[0] != '{' && string(status) != "null") {
		// Keys that need decoding, or a status encoding/json cannot decode
		// into the probe (it then ignores the ids too).
		return eventID(kind, item)
	}
	for _, path := range paths {
		var v []byte
		switch path {
		case "id_str":
			v = idStr
		case "id":
			v = id
		case "status.id":
			if status == nil || status[0] != '{' {
				continue
			}
			var inner [1][]byte
			if !members(status, inner[:], "id") {
				return eventID(kind, item)
			}
			v = inner[0]
		}
		if v == nil {
			continue
		}
		s, ok := plainID(v)
		if !ok {
			return eventID(kind, item)
		}
		if s != "" {
			return string(kind) + ":" + s
		}
	}
	return digestID(kind, item)
}

// members sets vals[i] to the value of the key names[i] of the JSON object
// obj (nil when absent). It returns false when encoding/json could read them
// differently: a key appears twice (the last would win), a key equals one
// of the names only ignoring case (it would match too), or a key needs
// unescaping.
func members(obj []byte, vals [][]byte, names ...string) bool {
	return eachMember(obj, func(key, val []byte) bool {
		for i, name := range names {
			if string(key) == name {
				if vals[i] != nil {
					return false
				}
				vals[i] = val
				return true
			}
			if bytes.EqualFold(key, []byte(name)) {
				return false
			}
		}
		return true
	})
}

// plainID is idString for a JSON string without escapes, a number or null;
// ok is false for anything else.
func plainID(v []byte) (string, bool) {
	switch c := v[0]; {
	case c == '"':
		if bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
			return "", false // encoding/json would unescape it or mend bad UTF-8
		}
		return string(v[1 : len(v)-1]), true
	case c == '-' || (c >= '0' && c <= '9'):
		return string(v), true
	case string(v) == "null":
		return "", true
	}
	return "", false
}

// eachMember calls fn with each key (without quotes) and value span of the
// JSON object obj, which must be valid JSON. It returns false when fn does,
// or when a key holds an escape or invalid UTF-8.
func eachMember(obj []byte, fn func(key, val []byte) bool) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipSpace(obj, i+1)
	if obj[i] == '}' {
		return true
	}
	for {
		end := skipString(obj, i)
		key := obj[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			return false
		}
		i = skipSpace(obj, end)
		i = skipSpace(obj, i+1) // the colon
		vend := skipValue(obj, i)
		if !fn(key, obj[i:vend]) {
			return false
		}
		i = skipSpace(obj, vend)
		if obj[i] == '}' {
			return true
		}
		i = skipSpace(obj, i+1) // the comma
	}
}

// eachElement calls fn with each element span of the valid JSON array arr.
func eachElement(arr []byte, fn func(item []byte) bool) bool {
	i := skipSpace(arr, 1)
	if arr[i] == ']' {
		return true
	}
	for {
		end := skipValue(arr, i)
		if !fn(arr[i:end]) {
			return false
		}
		i = skipSpace(arr, end)
		if arr[i] == ']' {
			return true
		}
		i = skipSpace(arr, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// skipValue returns the index after the valid JSON value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
