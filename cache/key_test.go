package cache

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKey(t *testing.T) {
	t.Parallel()
	// Changing Key orphans every cached entry: keep this value.
	assert.Equal(t, Key("myreg.azurecr.io", "basic", "user"), Key("myreg.azurecr.io", "basic", "user"))
	assert.Equal(t, goldenKey, Key("myreg.azurecr.io", "environment", "tenant/client"))

	distinct := [][]string{
		nil,
		{""},
		{"", ""},
		{"a"},
		{"a", ""},
		{"", "a"},
		{"a", "bc"},
		{"ab", "c"},
		{"abc"},
		{"a\x00bc"},
		{"a\x00", "bc"},
		{"myreg.azurecr.io", "basic"},
		{"myreg.azurecr.io", "environment"},
		{"basic", "myreg.azurecr.io"},
	}
	seen := map[string][]string{}
	for _, parts := range distinct {
		k := Key(parts...)
		require.Len(t, k, 64)
		_, err := hex.DecodeString(k)
		require.NoError(t, err)
		assert.Equal(t, strings.ToLower(k), k)
		if prev, dup := seen[k]; dup {
			t.Errorf("Key(%q) == Key(%q)", parts, prev)
		}
		seen[k] = parts
	}

	// Parts that are themselves hex could show through a key that merely
	// concatenated or encoded them; a hash shows none of them.
	secretish := []string{"deadbeefcafe", "0123456789abcdef", "c0ffee"}
	k := Key(secretish...)
	for _, p := range secretish {
		assert.NotContains(t, k, p)
	}
}

const goldenKey = "f035ffec7b0561f0b08b1fc43f3b124b807da460fa453b660133fff612737d16"
