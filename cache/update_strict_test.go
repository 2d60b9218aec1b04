package cache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStrictUpdateKeepsUnreadableFile: a strict store (stored credentials)
// never replaces a file it cannot read whole; a plain one (tokens) starts
// afresh.
func TestStrictUpdateKeepsUnreadableFile(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"future version": `{"version":2,"entries":{"k":{"registry":"r"}}}`,
		"truncated":      `{"version":1,"entries":{"k":{"registry":"r"`,
		"garbage":        "\x00\x01not json",
		"bad entry":      `{"version":1,"entries":{"k":{"registry":5}}}`,
		"too large":      `{"version":1,"entries":{}}` + strings.Repeat(" ", maxFileSize),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "credentials.json")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))

			strict, err := Open(dir, "credentials.json", Strict())
			require.NoError(t, err)
			// Reads say so too, rather than answering as if nothing were stored.
			_, _, err = strict.Get("k")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "left as it is")
			_, err = strict.All()
			require.Error(t, err)
			err = strict.Update(context.Background(), func(m map[string]Entry) error {
				m["new"] = Entry{Registry: "x"}
				return nil
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "left as it is")
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, content, string(got), "the file is untouched")

			plain, err := Open(dir, "credentials.json")
			require.NoError(t, err)
			require.NoError(t, plain.Update(context.Background(), func(m map[string]Entry) error {
				m["new"] = Entry{Registry: "x"}
				return nil
			}))
			e, ok, err := plain.Get("new")
			require.NoError(t, err)
			assert.True(t, ok)
			assert.Equal(t, "x", e.Registry)
		})
	}
}

func TestStrictUpdateAcceptsEmptyAndMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, "credentials.json", Strict())
	require.NoError(t, err)
	require.NoError(t, s.Update(context.Background(), func(m map[string]Entry) error { m["a"] = Entry{Registry: "a"}; return nil }))
	// An empty file holds nothing to lose: it is written afresh.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "credentials.json"), nil, 0o600))
	require.NoError(t, s.Update(context.Background(), func(m map[string]Entry) error { m["b"] = Entry{Registry: "b"}; return nil }))
	all, err := s.All()
	require.NoError(t, err)
	assert.Equal(t, map[string]Entry{"b": {Registry: "b"}}, all)
}
