package cache

import (
	"encoding/json"
	"unicode/utf8"
)

// A hand-written scanner for the cache file. encoding/json validates and
// then decodes every byte through a state machine, which for a file of 20
// entries holding ~1.5 kB tokens costs ~0.4 ms, a large share of a warm
// `docker pull` helper run. This scanner validates the whole document
// (accepting exactly what json.Valid accepts; see FuzzScanValid) about ten
// times faster and hands back the raw entries, so Get decodes only the entry
// it returns.

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// scanFile reports whether data is a valid JSON document of the form
// {"version":1,"entries":{...}} (other top-level members are ignored; member
// names match exactly; "entries" may be null). It calls visit for every
// member of "entries", in order, with the unescaped key and the raw value;
// visit may run before the document turns out invalid, so its results must
// be discarded when scanFile returns false.
func scanFile(data []byte, visit func(key, raw []byte)) bool {
	s := scanner{data: data}
	s.ws()
	if !s.peek('{') {
		return false
	}
	version := false
	ok := s.members(func(key []byte, _ bool) bool {
		switch string(key) {
		case "version":
			s.ws()
			start := s.i
			if !s.value() {
				return false
			}
			version = string(data[start:s.i]) == "1"
			return true
		case "entries":
			if s.peek('n') {
				return s.value()
			}
			if !s.peek('{') {
				return false
			}
			return s.members(func(key []byte, escaped bool) bool {
				s.ws()
				start := s.i
				if !s.value() {
					return false
				}
				if escaped || !utf8.Valid(key) {
					key = unescape(key)
				}
				visit(key, data[start:s.i])
				return true
			})
		default:
			return s.value()
		}
	})
	if !ok {
		return false
	}
	s.ws()
	return version && s.i == len(data)
}

// scanValid reports whether data is one valid JSON value, like json.Valid.
func scanValid(data []byte) bool {
	s := scanner{data: data}
	if !s.value() {
		return false
	}
	s.ws()
	return s.i == len(data)
}

// unescape decodes a JSON string body the way encoding/json does.
func unescape(body []byte) []byte {
	q := make([]byte, 0, len(body)+2)
	q = append(append(append(q, '"'), body...), '"')
	var out string
	if json.Unmarshal(q, &out) != nil {
		return body // cannot happen: the scanner validated it
	}
	return []byte(out)
}

type scanner struct {
	data  []byte
	i     int
	depth int
}

// ws skips whitespace.
func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips whitespace and reports whether the next byte is c.
func (s *scanner) peek(c byte) bool {
	s.ws()
	return s.i < len(s.data) && s.data[s.i] == c
}

// value skips one value (after whitespace).
func (s *scanner) value() bool {
	s.ws()
	if s.i >= len(s.data) {
		return false
	}
	switch c := s.data[s.i]; {
	case c == '{':
		return s.members(func([]byte, bool) bool { return s.value() })
	case c == '[':
		return s.array()
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return false
}

// members scans an object starting at '{'. For each member it scans the
// name and the colon, then calls member, which must scan the value.
func (s *scanner) members(member func(key []byte, escaped bool) bool) bool {
	if s.depth++; s.depth > maxDepth {
		return false
	}
	s.i++ // '{'
	if s.peek('}') {
		s.i++
		s.depth--
		return true
	}
	for {
		if !s.peek('"') {
			return false
		}
		key, escaped, ok := s.str()
		if !ok || !s.peek(':') {
			return false
		}
		s.i++
		if !member(key, escaped) {
			return false
		}
		if more, ok := s.next('}'); !more {
			return ok
		}
	}
}

// array scans an array starting at '['.
func (s *scanner) array() bool {
	if s.depth++; s.depth > maxDepth {
		return false
	}
	s.i++ // '['
	if s.peek(']') {
		s.i++
		s.depth--
		return true
	}
	for {
		if !s.value() {
			return false
		}
		if more, ok := s.next(']'); !more {
			return ok
		}
	}
}

// next scans what follows an element of an object or array: a comma (more
// elements to come) or the closing byte (the end; ok). Anything else is not
// JSON.
func (s *scanner) next(closing byte) (more, ok bool) {
	s.ws()
	if s.i >= len(s.data) {
		return false, false
	}
	switch s.data[s.i] {
	case ',':
		s.i++
		return true, true
	case closing:
		s.i++
		s.depth--
		return false, true
	}
	return false, false
}

// plain marks the bytes a string holds as they are: not '"', '\\' or a
// control character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str scans a string starting at '"' and returns its body (still escaped if
// escaped is true).
func (s *scanner) str() (body []byte, escaped, ok bool) {
	d := s.data
	s.i++ // opening quote
	start := s.i
	for {
		i := s.i
		for i < len(d) && plain[d[i]] {
			i++
		}
		s.i = i
		if i >= len(d) {
			return nil, false, false
		}
		switch d[i] {
		case '"':
			s.i++
			return d[start:i], escaped, true
		case '\\':
			escaped = true
			if i+1 >= len(d) {
				return nil, false, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i = i + 2
			case 'u':
				if i+6 > len(d) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) || !isHex(d[i+5]) {
					return nil, false, false
				}
				s.i = i + 6
			default:
				return nil, false, false
			}
		default: // control character
			return nil, false, false
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (s *scanner) lit(word string) bool {
	if len(s.data)-s.i < len(word) || string(s.data[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	d := s.data
	if d[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(d) && d[s.i] == '0':
		s.i++
	case s.i < len(d) && '1' <= d[s.i] && d[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.i < len(d) && d[s.i] == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if s.i < len(d) && (d[s.i] == 'e' || d[s.i] == 'E') {
		s.i++
		if s.i < len(d) && (d[s.i] == '+' || d[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits skips [0-9]* and reports whether there was at least one.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.data) && '0' <= s.data[s.i] && s.data[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
