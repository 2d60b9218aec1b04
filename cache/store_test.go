package cache

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newStore(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "cache"), "tokens.json", opts...)
	require.NoError(t, err)
	return s
}

// requireValidFile checks that the file parses as a version-1 file and
// returns its entries.
func requireValidFile(t *testing.T, path string) map[string]Entry {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f file
	require.NoError(t, json.Unmarshal(data, &f), "cache file must parse")
	require.Equal(t, formatVersion, f.Version)
	require.NotNil(t, f.Entries)
	return f.Entries
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	want := map[string]Entry{
		Key("basic", "a.azurecr.io"): {Registry: "a.azurecr.io", Kind: "basic", Username: "u", Secret: "s3cr3t"},
		Key("env", "b.azurecr.io"):   {Registry: "b.azurecr.io", Kind: "environment", Username: "00000000-0000-0000-0000-000000000000", Secret: "rt", ExpiresAt: exp},
		Key("neg", "c.azurecr.io"):   {Registry: "c.azurecr.io", Negative: "no identity available: x", ExpiresAt: exp.Add(time.Minute)},
		"":                           {Registry: "empty-key.azurecr.io"},
	}
	require.NoError(t, s.Update(context.Background(), func(m map[string]Entry) error {
		assert.Empty(t, m)
		for k, e := range want {
			m[k] = e
		}
		return nil
	}))
	for k, w := range want {
		got, ok, err := s.Get(k)
		require.NoError(t, err)
		require.True(t, ok, k)
		assert.True(t, w.ExpiresAt.Equal(got.ExpiresAt))
		got.ExpiresAt, w.ExpiresAt = time.Time{}, time.Time{}
		assert.Equal(t, w, got)
	}
	_, ok, err := s.Get("absent")
	require.NoError(t, err)
	assert.False(t, ok)

	all, err := s.All()
	require.NoError(t, err)
	assert.Len(t, all, len(want))
	assert.Len(t, requireValidFile(t, s.Path()), len(want))

	// Delete and change under Update; a second Store on the same file sees it.
	s2, err := Open(filepath.Dir(s.Path()), "tokens.json")
	require.NoError(t, err)
	require.NoError(t, s2.Update(context.Background(), func(m map[string]Entry) error {
		assert.Len(t, m, len(want))
		delete(m, "")
		return nil
	}))
	_, ok, err = s.Get("")
	require.NoError(t, err)
	assert.False(t, ok)

	// Zero ExpiresAt is not written at all.
	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	assert.Contains(t, string(data), `"expiresAt":"2030-01-02T03:04:05.000000006Z"`)
	assert.NotContains(t, string(data), "0001-01-01")
}

func TestOpenDoesNotCreateFile(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	_, err := os.Lstat(s.Path())
	assert.ErrorIs(t, err, os.ErrNotExist)
	all, err := s.All()
	require.NoError(t, err)
	assert.Empty(t, all)
}

func TestOpenInvalidName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", ".", "..", "a/b", `a\b`, "x.lock", "x.tmp", "locks"} {
		_, err := Open(t.TempDir(), name)
		assert.Error(t, err, "%q", name)
	}
	_, err := Open("", "tokens.json")
	assert.Error(t, err)
}

func TestUpdateErrorWritesNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	require.NoError(t, s.Update(context.Background(), addKey("a")))
	before, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	boom := errors.New("boom")
	err = s.Update(context.Background(), func(m map[string]Entry) error {
		delete(m, "a")
		m["b"] = Entry{}
		return boom
	})
	assert.Same(t, boom, err)
	after, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

func TestUpdateUnchangedDoesNotRewrite(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	require.NoError(t, s.Update(context.Background(), addKey("a")))
	fi1, err := os.Stat(s.Path())
	require.NoError(t, err)
	require.NoError(t, s.Update(context.Background(), func(map[string]Entry) error { return nil }))
	require.NoError(t, s.Update(context.Background(), addKey("a")))
	fi2, err := os.Stat(s.Path())
	require.NoError(t, err)
	assert.True(t, os.SameFile(fi1, fi2), "an Update that changes nothing must not replace the file")
}

func TestBrokenFilesAreMisses(t *testing.T) {
	t.Parallel()
	good := `{"registry":"g.azurecr.io","secret":"s"}`
	valid := `{"version":1,"entries":{"good":` + good + `}}`
	binary := make([]byte, 4096)
	for i := range binary {
		binary[i] = byte(i*7919 + i/13)
	}
	tests := []struct {
		name     string
		content  []byte // nil: no file
		wantGood bool   // "good" survives
	}{
		{name: "missing"},
		{name: "empty", content: []byte{}},
		{name: "whitespace", content: []byte(" \n\t")},
		{name: "truncated", content: []byte(valid[:len(valid)-3])},
		{name: "truncated to one byte", content: []byte("{")},
		{name: "garbage", content: []byte("this is not json at all")},
		{name: "binary", content: binary},
		{name: "nul bytes", content: make([]byte, 512)},
		{name: "future version", content: []byte(`{"version":2,"entries":{"good":` + good + `}}`)},
		{name: "version 0", content: []byte(`{"version":0,"entries":{"good":` + good + `}}`)},
		{name: "no version", content: []byte(`{"entries":{"good":` + good + `}}`)},
		{name: "version string", content: []byte(`{"version":"1","entries":{"good":` + good + `}}`)},
		{name: "version float", content: []byte(`{"version":1.5,"entries":{}}`)},
		{name: "array", content: []byte(`[1,2,3]`)},
		{name: "string", content: []byte(`"version"`)},
		{name: "number", content: []byte(`1`)},
		{name: "null", content: []byte(`null`)},
		{name: "entries array", content: []byte(`{"version":1,"entries":[` + good + `]}`)},
		{name: "entries string", content: []byte(`{"version":1,"entries":"x"}`)},
		{name: "entries null", content: []byte(`{"version":1,"entries":null}`)},
		{name: "trailing garbage", content: []byte(valid + "xx")},
		{name: "valid", content: []byte(valid), wantGood: true},
		{name: "reformatted (jq .)", wantGood: true, content: []byte(
			"{\n  \"version\" : 1 ,\n  \"entries\": {\n    \"good\": {\n      \"registry\": \"g.azurecr.io\",\n      \"secret\": \"s\"\n    }\n  }\n}\n")},
		{name: "one bad entry among good", wantGood: true, content: []byte(
			`{"version":1,"entries":{"good":` + good + `,"bad":5,"null":null,"arr":[],"wrongfield":{"registry":7}}}`)},
		{name: "unknown fields ignored", wantGood: true, content: []byte(
			`{"version":1,"extra":[1],"entries":{"good":{"registry":"g.azurecr.io","secret":"s","future":true}}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if tt.content != nil {
				require.NoError(t, os.WriteFile(s.Path(), tt.content, 0o600))
			}
			for _, k := range []string{"good", "bad", "null", "arr", "wrongfield", "absent"} {
				e, ok, err := s.Get(k)
				require.NoError(t, err, k)
				if k == "good" && tt.wantGood {
					assert.True(t, ok)
					assert.Equal(t, Entry{Registry: "g.azurecr.io", Secret: "s"}, e)
				} else {
					assert.False(t, ok, k)
					assert.Zero(t, e)
				}
			}
			all, err := s.All()
			require.NoError(t, err)
			if tt.wantGood {
				assert.Len(t, all, 1)
			} else {
				assert.Empty(t, all)
			}

			// The next Update rewrites a valid file keeping only what was good.
			require.NoError(t, s.Update(context.Background(), addKey("new")))
			entries := requireValidFile(t, s.Path())
			_, hasGood := entries["good"]
			assert.Equal(t, tt.wantGood, hasGood)
			assert.Contains(t, entries, "new")
			assert.Len(t, entries, map[bool]int{false: 1, true: 2}[tt.wantGood])
			e, ok, err := s.Get("new")
			require.NoError(t, err)
			assert.True(t, ok)
			assert.Equal(t, secretFor("new"), e.Secret)
		})
	}
}

func TestUnsafePathsAreRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	noop := func(map[string]Entry) error { return nil }

	t.Run("symlinked dir", func(t *testing.T) {
		t.Parallel()
		base := t.TempDir()
		real := filepath.Join(base, "real")
		require.NoError(t, os.Mkdir(real, 0o700))
		link := filepath.Join(base, "link")
		require.NoError(t, os.Symlink(real, link))
		for _, d := range []string{link, link + "/"} {
			_, err := Open(d, "tokens.json")
			require.ErrorIs(t, err, ErrUnsafe)
			assert.Contains(t, err.Error(), "symbolic link")
		}
	})
	t.Run("group writable dir", func(t *testing.T) {
		t.Parallel()
		d := filepath.Join(t.TempDir(), "d")
		require.NoError(t, os.Mkdir(d, 0o700))
		for _, mode := range []os.FileMode{0o770, 0o702, 0o777} {
			require.NoError(t, os.Chmod(d, mode))
			_, err := Open(d, "tokens.json")
			require.ErrorIs(t, err, ErrUnsafe, "%o", mode)
			assert.Contains(t, err.Error(), "writable by group or others")
		}
		require.NoError(t, os.Chmod(d, 0o755)) // readable is fine
		_, err := Open(d, "tokens.json")
		assert.NoError(t, err)
	})
	t.Run("dir is a file", func(t *testing.T) {
		t.Parallel()
		f := filepath.Join(t.TempDir(), "f")
		require.NoError(t, os.WriteFile(f, nil, 0o600))
		_, err := Open(f, "tokens.json")
		assert.Error(t, err)
	})
	t.Run("dir owned by another user", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() != 0 {
			t.Skip("needs root to chown")
		}
		d := filepath.Join(t.TempDir(), "d")
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.Chown(d, 12345, 12345))
		_, err := Open(d, "tokens.json")
		require.ErrorIs(t, err, ErrUnsafe)
		assert.Contains(t, err.Error(), "owned by another user")
	})

	fileCases := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{"symlinked file", func(t *testing.T, path string) {
			target := filepath.Join(t.TempDir(), "elsewhere.json")
			require.NoError(t, os.WriteFile(target, []byte(`{"version":1,"entries":{}}`), 0o600))
			require.NoError(t, os.Symlink(target, path))
		}, "symbolic link"},
		{"dangling symlink", func(t *testing.T, path string) {
			require.NoError(t, os.Symlink(filepath.Join(t.TempDir(), "nothing"), path))
		}, "symbolic link"},
		{"group writable file", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte(`{"version":1,"entries":{}}`), 0o600))
			require.NoError(t, os.Chmod(path, 0o620))
		}, "writable by group or others"},
		{"other writable file", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte(`{}`), 0o600))
			require.NoError(t, os.Chmod(path, 0o606))
		}, "writable by group or others"},
		{"fifo", func(t *testing.T, path string) {
			require.NoError(t, syscall.Mkfifo(path, 0o600))
		}, "not a regular file"},
		{"directory", func(t *testing.T, path string) {
			require.NoError(t, os.Mkdir(path, 0o700))
		}, "not a regular file"},
		{"file owned by another user", func(t *testing.T, path string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			require.NoError(t, os.WriteFile(path, []byte(`{}`), 0o600))
			require.NoError(t, os.Chown(path, 12345, 12345))
		}, "owned by another user"},
	}
	for _, tc := range fileCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			tc.setup(t, s.Path())
			before, _ := os.Lstat(s.Path())

			_, _, err := s.Get("k")
			require.ErrorIs(t, err, ErrUnsafe)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), s.Path())
			_, err = s.All()
			require.ErrorIs(t, err, ErrUnsafe)
			err = s.Update(ctx, addKey("k"))
			require.ErrorIs(t, err, ErrUnsafe)

			after, _ := os.Lstat(s.Path())
			assert.True(t, os.SameFile(before, after), "an unsafe file must be left alone")
			assert.Equal(t, before.Mode(), after.Mode())
		})
	}

	t.Run("symlinked lock file", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		target := filepath.Join(t.TempDir(), "lock")
		require.NoError(t, os.Symlink(target, s.Path()+".lock"))
		err := s.Update(ctx, noop)
		require.ErrorIs(t, err, ErrUnsafe)
		_, err = os.Lstat(target)
		assert.ErrorIs(t, err, os.ErrNotExist, "must not create through the link")
	})
	t.Run("symlinked locks dir", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(filepath.Dir(s.Path()), locksDir)))
		_, err := s.LockKey(ctx, "k")
		require.ErrorIs(t, err, ErrUnsafe)
	})
}

// TestModes checks the modes of everything the package creates, in a helper
// process running with umask 0, so the package's own modes are what shows.
func TestModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b", "cache")
	cmd, _, stdin := helper(t, "update", dir, "p", 3)
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	cmd, out, stdin := helper(t, "lockkey", dir, "some-key", 0)
	require.True(t, out.Scan())
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())

	want := map[string]os.FileMode{
		dir:                                    os.ModeDir | 0o700,
		filepath.Join(dir, "tokens.json"):      0o600,
		filepath.Join(dir, "tokens.json.lock"): 0o600,
		filepath.Join(dir, locksDir):           os.ModeDir | 0o700,
	}
	locks, err := filepath.Glob(filepath.Join(dir, locksDir, "*.lock"))
	require.NoError(t, err)
	require.Len(t, locks, 1)
	want[locks[0]] = 0o600
	for p, m := range want {
		fi, err := os.Lstat(p)
		require.NoError(t, err)
		assert.Equal(t, m, fi.Mode(), p)
	}
	// Lock file names do not reveal the key: a SHA-256, nothing else.
	assert.Regexp(t, `/[0-9a-f]{64}\.lock$`, locks[0])
	// Temporary files are covered by TestCrashSafety, whose killed writers
	// (also under umask 0) leave them behind.
}

func TestRemovesStaleTemps(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	dir := filepath.Dir(s.Path())
	stale := filepath.Join(dir, "tokens.json.123.tmp")
	fresh := filepath.Join(dir, "tokens.json.456.tmp")
	other := filepath.Join(dir, "credentials.json.789.tmp")
	for _, p := range []string{stale, fresh, other} {
		require.NoError(t, os.WriteFile(p, []byte(`{"version":1,"entr`), 0o600))
	}
	old := time.Now().Add(-2 * time.Minute)
	require.NoError(t, os.Chtimes(stale, old, old))
	require.NoError(t, os.Chtimes(other, old, old))

	require.NoError(t, s.Update(context.Background(), addKey("a")))
	assert.NoFileExists(t, stale)
	assert.FileExists(t, fresh, "a recent temp file is left for a minute")
	assert.FileExists(t, other, "another store's temp file is its own business")
	requireValidFile(t, s.Path())
}

func fileDir(s *Store) string { return filepath.Dir(s.Path()) }
