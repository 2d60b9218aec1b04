package credhelper

import (
	"encoding/json"
	"testing"
)

// FuzzFieldNameFolding: the quick test never waves through a file that the
// full check refuses.
func FuzzFieldNameFolding(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"registries":{"a.azurecr.io":{"password":"x","Password":"y"}}}`,
		`{"defaults":{"Timeout":"1s"}}`, `{"Registries":{}}`, `{"registries":{"a.azurecr.io":{"pass\u0077ord":"x"}}}`,
		`{"registries":{"a.azurecr.io":{"paſsword":"x"}}}`, `{"registries":{"a.azurecr.io":{"username":"a\"b","Username":"c"}}}`,
		`{"defaults":{"managedIdentity":"auto"},"registries":{"a.azurecr.io":{"identity":"managedidentity"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkFieldNames(b) != nil && !mayFoldFieldNames(b) {
			t.Fatalf("%q: the quick test missed a folded field name", b)
		}
	})
}

// FuzzFieldNamePairs: the same property for configurations built from two
// member names, at each level a field can be, so that every input is one the
// full check reads.
func FuzzFieldNamePairs(f *testing.F) {
	for _, p := range [][2]string{{"password", "Password"}, {"timeout", "TIMEOUT"}, {"registries", "Registries"},
		{"clientId", "clientID"}, {"paſsword", "password"}, {"tenantId", "tenant\u0049d"}} {
		f.Add(p[0], p[1], uint8(0))
	}
	f.Fuzz(func(t *testing.T, k1, k2 string, level uint8) {
		obj := map[string]string{k1: "x", k2: "y"}
		var doc any = obj
		switch level % 3 {
		case 1:
			doc = map[string]any{"defaults": obj}
		case 2:
			doc = map[string]any{"registries": map[string]any{"a.azurecr.io": obj}}
		}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Skip()
		}
		if checkFieldNames(b) != nil && !mayFoldFieldNames(b) {
			t.Fatalf("%s: the quick test missed a folded field name", b)
		}
	})
}
