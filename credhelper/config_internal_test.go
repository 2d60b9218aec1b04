package credhelper

import "testing"

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
