package cache

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// formatVersion is the only file version this package reads and writes.
const formatVersion = 1

// file is the file as written.
type file struct {
	Version int              `json:"version"`
	Entries map[string]Entry `json:"entries"`
}

// lookup returns the raw value stored under key, or nil if data is not a
// version-1 file (empty, truncated, not JSON, wrong shape, other version) or
// has no such entry. With duplicate keys the last wins.
func lookup(data []byte, key string) []byte {
	raw, _ := find(data, key)
	return raw
}

// find is lookup that also says whether data is a version-1 file at all.
func find(data []byte, key string) (raw []byte, valid bool) {
	if len(data) == 0 || !scanFile(data, func(k, v []byte) {
		if string(k) == key {
			raw = v
		}
	}) {
		return nil, false
	}
	return raw, true
}

// decodeEntry decodes one entry; ok is false if raw is absent, null or not
// an object of the right shape. It decodes what encoding/json would into
// Entry, except that member names must match exactly (this package writes
// them so): encoding/json would set up its reflection caches for Entry and
// time.Time first, a tenth of a warm helper run.
func decodeEntry(raw []byte) (e Entry, ok bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return Entry{}, false
	}
	s := scanner{data: raw}
	ok = s.members(func(key []byte, escaped bool) bool {
		if escaped {
			key = unescape(key)
		}
		var field *string
		switch string(key) {
		case "registry":
			field = &e.Registry
		case "kind":
			field = &e.Kind
		case "username":
			field = &e.Username
		case "secret":
			field = &e.Secret
		case "negative":
			field = &e.Negative
		case "expiresAt":
			return s.time(&e.ExpiresAt)
		default:
			return s.value()
		}
		return s.string(field)
	})
	if !ok {
		return Entry{}, false
	}
	s.ws()
	return e, s.i == len(raw)
}

// string decodes a string or null (which leaves *dst alone, as
// encoding/json does) into *dst.
func (s *scanner) string(dst *string) bool {
	if s.peek('n') {
		return s.lit("null")
	}
	if !s.peek('"') {
		return false
	}
	body, escaped, ok := s.str()
	if !ok {
		return false
	}
	if escaped || !utf8.Valid(body) {
		body = unescape(body) // also replaces invalid UTF-8, as encoding/json does
	}
	*dst = string(body)
	return true
}

// time decodes an RFC 3339 string or null into *dst, by the rules of
// time.Time's UnmarshalJSON (which parses the string still escaped).
func (s *scanner) time(dst *time.Time) bool {
	if s.peek('n') {
		return s.lit("null")
	}
	if !s.peek('"') {
		return false
	}
	body, _, ok := s.str()
	return ok && dst.UnmarshalText(body) == nil
}

// decodeStrict is decodeAll for data that must not be lost: ok is false
// when data is not empty and is not wholly a file this version can read.
func decodeStrict(data []byte) (map[string]Entry, bool) {
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]Entry{}, true
	}
	raws := map[string][]byte{}
	if !scanFile(data, func(k, v []byte) { raws[string(k)] = v }) {
		return nil, false
	}
	entries := make(map[string]Entry, len(raws))
	for k, v := range raws {
		e, ok := decodeEntry(v)
		if !ok {
			return nil, false
		}
		entries[k] = e
	}
	return entries, true
}

// decodeAll returns every entry of data that decodes; never nil. A file
// that is not a valid version-1 file has none.
func decodeAll(data []byte) map[string]Entry {
	raws := map[string][]byte{}
	if len(data) == 0 || !scanFile(data, func(k, v []byte) { raws[string(k)] = v }) {
		return map[string]Entry{}
	}
	entries := make(map[string]Entry, len(raws))
	for k, v := range raws {
		if e, ok := decodeEntry(v); ok {
			entries[k] = e
		}
	}
	return entries
}

// encode returns the file holding entries. The output is deterministic
// (encoding/json sorts map keys), so unchanged entries give identical bytes.
func encode(entries map[string]Entry) ([]byte, error) {
	if entries == nil {
		entries = map[string]Entry{}
	}
	data, err := json.Marshal(file{Version: formatVersion, Entries: entries})
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
