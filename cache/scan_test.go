package cache

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var scanSeeds = []string{
	``, ` `, `{`, `}`, `{}`, `[]`, `[`, `[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{1:2}`,
	`null`, `nul`, `true`, `tru`, `false`, `falsey`, `"`, `""`, `"\"`, `"\u12"`, `"\u12g4"`, `"\uD800"`,
	`"\x"`, "\"\x01\"", "\"\x7f\"", "\"\xff\"", `"é"`, `0`, `-`, `-0`, `01`, `1.`, `1.5`, `.5`, `1e`, `1e+`,
	`1E-7`, `-12.5e+3`, `1 2`, `[1 2]`, `{"a":1 "b":2}`, ` {"a" : [ 1 , {"b":null} ] } `, "\t\n\r{}\r\n",
	`{"version":1,"entries":{}}`, `{"version":1,"entries":{"k":{"registry":"r"}}}`,
	`{"entries":{"k":{}},"version":1}`, `{"version":2,"entries":{}}`, `{"version":1.0,"entries":{}}`,
	`{"version":1,"entries":null}`, `{"version":1,"entries":[]}`, `{"Version":1,"entries":{}}`,
	`{"version":1,"entries":{"k\"q":1,"\u00e9":2,"k":3,"k":4}}`, `{"version":1,"entries":{}}x`,
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
}

// FuzzScanValid: the scanner accepts exactly what encoding/json accepts.
// Run longer with: go test -run x -fuzz FuzzScanValid ./cache/
func FuzzScanValid(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if scanValid(data) != json.Valid(data) {
			t.Fatalf("scanValid(%q) = %v, json.Valid = %v", data, scanValid(data), json.Valid(data))
		}
		if scanFile(data, func(k, v []byte) {
			if !json.Valid(v) {
				t.Fatalf("raw entry %q is not valid JSON", v)
			}
		}) && !json.Valid(data) {
			t.Fatalf("scanFile accepted invalid %q", data)
		}
	})
}

func TestScanDeepNesting(t *testing.T) {
	t.Parallel()
	deep := make([]byte, 0, 2*maxDepth+2)
	for range maxDepth + 1 {
		deep = append(deep, '[')
	}
	for range maxDepth + 1 {
		deep = append(deep, ']')
	}
	assert.False(t, scanValid(deep))
	assert.True(t, scanValid(deep[1:len(deep)-1]))
}

// FuzzRoundTrip: whatever keys and values are stored come back the same,
// through Get's path and All's path.
func FuzzRoundTrip(f *testing.F) {
	f.Add("k", "secret", "", "a.azurecr.io")
	f.Add("k\"\\\x00é\xff", "s\u2028\n", "registry", "")
	f.Add("", "", "\t", "\xff\xfe")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		if k1 != k2 && fix(k1) == fix(k2) {
			t.Skip("distinct keys that encoding/json stores alike")
		}
		in := map[string]Entry{k1: {Registry: "r", Secret: v1}, k2: {Registry: v2, Username: k1}}
		data, err := encode(in)
		require.NoError(t, err)
		all := decodeAll(data)
		require.Len(t, all, len(in))
		for k, want := range in {
			// encoding/json stores invalid UTF-8 as U+FFFD.
			k, want.Registry, want.Secret, want.Username = fix(k), fix(want.Registry), fix(want.Secret), fix(want.Username)
			got, ok := decodeEntry(lookup(data, k))
			require.True(t, ok, "key %q", k)
			assert.Equal(t, want, got)
			assert.Equal(t, want, all[k])
		}
	})
}

func fix(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// FuzzDecodeEntry: decodeEntry decodes what encoding/json decodes into
// Entry. Inputs with a member name that matches a field only when case is
// ignored are left out: decodeEntry skips such members.
func FuzzDecodeEntry(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"registry":"r","kind":"environment","username":"u","secret":"s","expiresAt":"2026-11-27T10:00:00.123456789Z"}`,
		`{"registry":null,"expiresAt":null,"negative":"no identity"}`, `{"expiresAt":"2026-11-27T10:00:00+01:00"}`,
		`{"expiresAt":""}`, `{"expiresAt":"2026-11-27"}`, `{"expiresAt":"2026\u002d11-27T10:00:00Z"}`, `{"expiresAt":1}`,
		`{"secret":1}`, `{"secret":"a\"b\u00e9\ud83d\ude00"}`, "{\"secret\":\"\xff\"}", `{"secret":"a","secret":"b"}`,
		`{"other":{"x":[1,2,{"y":null}]},"registry":"r"}`, `{"Secret":"s"}`, `{"SECRET":"s"}`, `{"secret":"s"} `,
		`{"secret":"s"`, `{"secret":true}`, `{"secr\u0065t":"s"}`, `{"secret":"a","secr\u0065t":"b"}`, `{"expiresAt":"0001-01-01T00:00:00Z"}`, `{"expiresAt":"10000-01-01T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	fields := []string{"registry", "kind", "username", "secret", "expiresAt", "negative"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := decodeEntry(raw)
		var want Entry
		wantOK := len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &want) == nil
		if foldedMember(raw, fields) {
			return
		}
		require.Equal(t, wantOK, ok, "%q: encoding/json ok=%v, decodeEntry ok=%v", raw, wantOK, ok)
		if ok {
			require.Equal(t, want, got, "%q", raw)
		}
	})
}

// foldedMember reports whether raw is an object with a member whose name
// equals one of fields only when case is ignored.
func foldedMember(raw []byte, fields []string) bool {
	folded := false
	s := scanner{data: raw}
	if s.peek('{') {
		s.members(func(key []byte, _ bool) bool {
			for _, f := range fields {
				if k := string(unescape(key)); k != f && strings.EqualFold(k, f) {
					folded = true
				}
			}
			return s.value()
		})
	}
	return folded
}
