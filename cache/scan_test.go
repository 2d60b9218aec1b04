package cache

import (
	"encoding/json"
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
