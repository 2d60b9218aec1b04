package credhelper_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
)

// configureEnv is one isolated user for `docker-credential-acr configure`:
// a home, the helper's configuration under XDG_CONFIG_HOME, a PATH holding
// a docker-credential-acr executable, and an environment in a map.
type configureEnv struct {
	root, home, xdgConfig, bin string
	env                        map[string]string
}

func newConfigureEnv(t *testing.T, acrConfig string) *configureEnv {
	t.Helper()
	root := t.TempDir()
	e := &configureEnv{root: root, home: filepath.Join(root, "home"), xdgConfig: filepath.Join(root, "xdg-config"),
		bin: filepath.Join(root, "bin")}
	require.NoError(t, os.MkdirAll(e.home, 0o700))
	require.NoError(t, os.MkdirAll(e.bin, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(e.bin, "docker-credential-acr"), []byte("#!/bin/sh\n"), 0o755))
	e.env = map[string]string{
		"HOME":                        e.home,
		"XDG_CONFIG_HOME":             e.xdgConfig,
		"PATH":                        e.bin,
		credhelper.EnvCacheDir:        filepath.Join(root, "cache"),
		credhelper.EnvManagedIdentity: "never",
	}
	if acrConfig != "" {
		p := filepath.Join(e.xdgConfig, "docker-credential-acr", "config.json")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(acrConfig), 0o600))
	}
	return e
}

func (e *configureEnv) dockerConfig() string { return filepath.Join(e.home, ".docker", "config.json") }

func (e *configureEnv) writeDockerConfig(t *testing.T, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(e.dockerConfig()), 0o700))
	require.NoError(t, os.WriteFile(e.dockerConfig(), []byte(content), mode))
	require.NoError(t, os.Chmod(e.dockerConfig(), mode))
}

type configureRun struct {
	code           int
	stdout, stderr string
}

func (e *configureEnv) run(t *testing.T, args ...string) configureRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	o := credhelper.Options{Getenv: func(k string) string { return e.env[k] }}
	code := credhelper.Main(append([]string{"configure"}, args...), strings.NewReader(""), &stdout, &stderr, o)
	return configureRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func cfgReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func cfgDecodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m), s)
	return m
}

// topLevelKeys lists an object's keys in file order.
func cfgTopLevelKeys(t *testing.T, s string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	_, err := dec.Token()
	require.NoError(t, err)
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

// A Docker config with everything Docker and its plugins put there, oddly
// formatted: logins, a default store, other helpers, nested unknown fields,
// numbers in unusual notation, escapes, HTML characters.
const busyDockerConfig = `{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpodWItUExBTlRFRA=="},
  "ghcr.io" : { "auth" : "Z2g6Z2gtUExBTlRFRA==", "identitytoken":"" }},
"credsStore"  :  "desktop",
	"credHelpers": {"gcr.io":"gcloud","123456789.dkr.ecr.us-east-1.amazonaws.com":"ecr-login"},
"plugins":{"buildx":{"default":"x<y>&z","levels":[1,2.50,1e3,-0.0,{"deep":null,"t":true}]}},
"psFormat":"table {{.ID}}\t{{.Names}}\u00e9",
  "currentContext":"colima","experimental":"enabled","aliases":{"builder":"buildx"},
"proxies": {"default": {"httpProxy": "http://proxy:3128", "noProxy": "*.local"}}
}`

func TestConfigureKeepsEverythingElse(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, "")
	e.writeDockerConfig(t, busyDockerConfig, 0o600)
	r := e.run(t, "https://MyReg.azurecr.io/v2/")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	assert.Contains(t, r.stdout, `+     "myreg.azurecr.io": "acr"`)
	assert.Contains(t, r.stdout, "wrote "+e.dockerConfig())
	assert.NotContains(t, r.stdout, "PLANTED", "logins are never printed")

	after := cfgReadFile(t, e.dockerConfig())
	before, got := cfgDecodeJSON(t, busyDockerConfig), cfgDecodeJSON(t, after)
	wantHelpers := before["credHelpers"].(map[string]any)
	wantHelpers["myreg.azurecr.io"] = "acr"
	assert.Equal(t, wantHelpers, got["credHelpers"])
	delete(before, "credHelpers")
	delete(got, "credHelpers")
	assert.Equal(t, before, got, "everything but credHelpers is as it was")
	assert.Equal(t, cfgTopLevelKeys(t, busyDockerConfig), cfgTopLevelKeys(t, after), "fields keep their order")
	assert.Contains(t, after, `1e3`, "numbers are kept as written")
	assert.Contains(t, after, `\u00e9`, "escapes are kept as written")
}

func TestConfigureIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, "")
	e.writeDockerConfig(t, busyDockerConfig, 0o600)
	require.Equal(t, 0, e.run(t, "myreg.azurecr.io", "other.azurecr.io").code)
	first := cfgReadFile(t, e.dockerConfig())
	st1, err := os.Stat(e.dockerConfig())
	require.NoError(t, err)
	backup := cfgReadFile(t, e.dockerConfig()+".bak")

	for _, args := range [][]string{{"myreg.azurecr.io", "other.azurecr.io"}, {"MYREG.azurecr.io:443"}, {"--dry-run", "other.azurecr.io"}} {
		r := e.run(t, args...)
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "nothing to change")
		assert.NotContains(t, r.stdout, "wrote")
	}
	assert.Equal(t, first, cfgReadFile(t, e.dockerConfig()))
	st2, err := os.Stat(e.dockerConfig())
	require.NoError(t, err)
	assert.True(t, os.SameFile(st1, st2), "the file was not replaced")
	assert.Equal(t, backup, cfgReadFile(t, e.dockerConfig()+".bak"), "the backup still holds the original")
	assert.Equal(t, busyDockerConfig, backup)
}

func TestConfigureDryRun(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, "")
	e.writeDockerConfig(t, `{"credHelpers": {"myreg.azurecr.io": "acr-env", "gcr.io": "gcloud"}}`, 0o644)
	r := e.run(t, "--dry-run", "myreg.azurecr.io", "new.azurecr.io")
	require.Equal(t, 0, r.code, r.stderr)
	t.Logf("dry run:\n%s", r.stdout)
	for _, line := range []string{
		"--- " + e.dockerConfig(),
		`      "gcr.io": "gcloud"`,
		`-     "myreg.azurecr.io": "acr-env"`,
		`+     "myreg.azurecr.io": "acr"`,
		`+     "new.azurecr.io": "acr"`,
		"dry run: nothing written",
	} {
		assert.Contains(t, r.stdout, line)
	}
	assert.Equal(t, `{"credHelpers": {"myreg.azurecr.io": "acr-env", "gcr.io": "gcloud"}}`, cfgReadFile(t, e.dockerConfig()))
	assert.NoFileExists(t, e.dockerConfig()+".bak")

	// A dry run against no file creates nothing either.
	e2 := newConfigureEnv(t, "")
	r = e2.run(t, "myreg.azurecr.io", "--dry-run")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "(new file)")
	assert.NoDirExists(t, filepath.Dir(e2.dockerConfig()))
}

func TestConfigureRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"docker.io"},
		{"registry.example.com"},
		{"x.azurecr.io.evil.com"},
		{"myreg.azurecr.io", "evil.com"}, // all or nothing
		{"http://myreg.azurecr.io"},
		{"myreg.azurecr.io/v2/../../evil"},
		{"myreg.data.azurecr.io"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			e := newConfigureEnv(t, "")
			r := e.run(t, args...)
			assert.Equal(t, 1, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.Contains(t, r.stderr, "nothing written")
			assert.NoDirExists(t, filepath.Dir(e.dockerConfig()))
		})
	}
	t.Run("existing file untouched", func(t *testing.T) {
		t.Parallel()
		e := newConfigureEnv(t, "")
		e.writeDockerConfig(t, busyDockerConfig, 0o600)
		r := e.run(t, "myreg.azurecr.io", "registry.example.com")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, `registry.example.com is not an Azure Container Registry`)
		assert.Contains(t, r.stderr, `"customHost": true`)
		assert.Equal(t, busyDockerConfig, cfgReadFile(t, e.dockerConfig()))
		assert.NoFileExists(t, e.dockerConfig()+".bak")
	})
}

func TestConfigureCustomHostFromConfig(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, `{"registries": {"registry.example.com": {"customHost": true},
		"mirror.example.com:5000": {"customHost": true}, "prod.azurecr.io": {}}}`)
	r := e.run(t, "https://registry.example.com/v2/")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, map[string]any{"registry.example.com": "acr"}, cfgDecodeJSON(t, cfgReadFile(t, e.dockerConfig()))["credHelpers"])

	// No arguments: every registry of the configuration file.
	r = e.run(t)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, map[string]any{"registry.example.com": "acr", "mirror.example.com:5000": "acr", "prod.azurecr.io": "acr"},
		cfgDecodeJSON(t, cfgReadFile(t, e.dockerConfig()))["credHelpers"])
}

func TestConfigureNoRegistries(t *testing.T) {
	t.Parallel()
	for _, cfg := range []string{"", `{"defaults": {"timeout": "10s"}}`} {
		e := newConfigureEnv(t, cfg)
		r := e.run(t)
		assert.Equal(t, 1, r.code)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
		assert.Contains(t, r.stderr, "no registry given")
		assert.NoDirExists(t, filepath.Dir(e.dockerConfig()))
	}
	t.Run("broken helper configuration", func(t *testing.T) {
		t.Parallel()
		e := newConfigureEnv(t, `{"registries": {"myreg.azurecr.io": {"bogus": 1}}}`)
		r := e.run(t, "myreg.azurecr.io")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "bogus")
		assert.NoDirExists(t, filepath.Dir(e.dockerConfig()))
	})
}

func TestConfigureCreatesMissingFile(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, "")
	r := e.run(t, "myreg.azurecr.io")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "(new file)")
	assert.Equal(t, map[string]any{"credHelpers": map[string]any{"myreg.azurecr.io": "acr"}}, cfgDecodeJSON(t, cfgReadFile(t, e.dockerConfig())))
	st, err := os.Stat(filepath.Dir(e.dockerConfig()))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "new directory")
	st, err = os.Stat(e.dockerConfig())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "new file")
	assert.NoFileExists(t, e.dockerConfig()+".bak")
	entries, err := os.ReadDir(filepath.Dir(e.dockerConfig()))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")

	// An empty file is an empty configuration, as for Docker.
	e2 := newConfigureEnv(t, "")
	e2.writeDockerConfig(t, "\n", 0o600)
	require.Equal(t, 0, e2.run(t, "myreg.azurecr.io").code)
	assert.Equal(t, map[string]any{"credHelpers": map[string]any{"myreg.azurecr.io": "acr"}}, cfgDecodeJSON(t, cfgReadFile(t, e2.dockerConfig())))
}

func TestConfigureMalformedConfig(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"truncated":            `{"auths": {"x": {"auth": "c2VjcmV0LVBMQU5URUQ="}`,
		"array":                `["auths"]`,
		"trailing garbage":     `{"auths": {}} x`,
		"credHelpers a list":   `{"credHelpers": ["myreg.azurecr.io"]}`,
		"credHelpers a number": `{"credHelpers": {"myreg.azurecr.io": 1}}`,
		"credHelpers twice":    `{"credHelpers": {}, "auths": {}, "credHelpers": {"a": "b"}}`,
		"not json":             "auths = secret-PLANTED\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newConfigureEnv(t, "")
			e.writeDockerConfig(t, content, 0o600)
			r := e.run(t, "myreg.azurecr.io")
			assert.Equal(t, 1, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.Contains(t, r.stderr, e.dockerConfig())
			assert.Contains(t, r.stderr, "nothing was changed")
			assert.NotContains(t, r.stderr, "PLANTED")
			assert.Equal(t, content, cfgReadFile(t, e.dockerConfig()))
			assert.NoFileExists(t, e.dockerConfig()+".bak")
		})
	}
}

func TestConfigureBackupAndMode(t *testing.T) {
	t.Parallel()
	for _, mode := range []os.FileMode{0o600, 0o644, 0o640} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			e := newConfigureEnv(t, "")
			e.writeDockerConfig(t, busyDockerConfig, mode)
			r := e.run(t, "myreg.azurecr.io")
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "the previous version is "+e.dockerConfig()+".bak")
			for _, p := range []string{e.dockerConfig(), e.dockerConfig() + ".bak"} {
				st, err := os.Stat(p)
				require.NoError(t, err)
				assert.Equal(t, mode, st.Mode().Perm(), p)
			}
			assert.Equal(t, busyDockerConfig, cfgReadFile(t, e.dockerConfig()+".bak"))

			// The next change replaces the backup with the version before it.
			second := cfgReadFile(t, e.dockerConfig())
			require.Equal(t, 0, e.run(t, "other.azurecr.io").code)
			assert.Equal(t, second, cfgReadFile(t, e.dockerConfig()+".bak"))
		})
	}
}

func TestConfigureFollowsSymlink(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, "")
	real := filepath.Join(e.root, "dotfiles", "docker.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(real), 0o700))
	require.NoError(t, os.WriteFile(real, []byte(`{"auths": {}}`), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Dir(e.dockerConfig()), 0o700))
	require.NoError(t, os.Symlink(real, e.dockerConfig()))
	require.Equal(t, 0, e.run(t, "myreg.azurecr.io").code)
	fi, err := os.Lstat(e.dockerConfig())
	require.NoError(t, err)
	assert.Equal(t, os.ModeSymlink, fi.Mode()&os.ModeSymlink, "still a link")
	assert.Contains(t, cfgReadFile(t, real), `"myreg.azurecr.io": "acr"`)
	assert.Equal(t, `{"auths": {}}`, cfgReadFile(t, real+".bak"))
}

// TestConfigureWithoutUsableCache: the cache directory only holds the
// lock that orders concurrent configures; when it cannot be used, configure
// still edits the file, and says it took no lock.
func TestConfigureWithoutUsableCache(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, "")
	shared := filepath.Join(e.root, "shared")
	require.NoError(t, os.Mkdir(shared, 0o700))
	require.NoError(t, os.Chmod(shared, 0o777))
	e.env[credhelper.EnvCacheDir] = shared
	r := e.run(t, "myreg.azurecr.io")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "without a lock")
	assert.Contains(t, cfgReadFile(t, e.dockerConfig()), `"myreg.azurecr.io": "acr"`)
}

// TestConfigureRefusesDanglingSymlink: a link to a file that does not exist
// is not replaced by a regular file.
func TestConfigureRefusesDanglingSymlink(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, "")
	require.NoError(t, os.MkdirAll(filepath.Dir(e.dockerConfig()), 0o700))
	require.NoError(t, os.Symlink(filepath.Join(e.root, "dotfiles", "missing.json"), e.dockerConfig()))
	r := e.run(t, "myreg.azurecr.io")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "does not exist")
	fi, err := os.Lstat(e.dockerConfig())
	require.NoError(t, err)
	assert.Equal(t, os.ModeSymlink, fi.Mode()&os.ModeSymlink, "still a link")
}

func TestConfigureDockerConfigEnv(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, "")
	dir := filepath.Join(e.root, "docker-config")
	e.env["DOCKER_CONFIG"] = dir
	require.Equal(t, 0, e.run(t, "myreg.azurecr.io").code)
	assert.FileExists(t, filepath.Join(dir, "config.json"))
	assert.NoFileExists(t, e.dockerConfig())
}

func TestConfigureContainersAuthPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  func(e *configureEnv) map[string]string
		want func(e *configureEnv) string
	}{
		{"REGISTRY_AUTH_FILE first", func(e *configureEnv) map[string]string {
			return map[string]string{"REGISTRY_AUTH_FILE": filepath.Join(e.root, "auth", "mine.json"), "XDG_RUNTIME_DIR": e.root}
		}, func(e *configureEnv) string { return filepath.Join(e.root, "auth", "mine.json") }},
		{"then XDG_RUNTIME_DIR", func(e *configureEnv) map[string]string {
			return map[string]string{"XDG_RUNTIME_DIR": e.root}
		}, func(e *configureEnv) string { return filepath.Join(e.root, "containers", "auth.json") }},
		{"XDG_RUNTIME_DIR missing: XDG_CONFIG_HOME", func(e *configureEnv) map[string]string {
			return map[string]string{"XDG_RUNTIME_DIR": filepath.Join(e.root, "no-such-dir")}
		}, func(e *configureEnv) string { return filepath.Join(e.xdgConfig, "containers", "auth.json") }},
		{"then ~/.config", func(e *configureEnv) map[string]string {
			return map[string]string{"XDG_CONFIG_HOME": ""}
		}, func(e *configureEnv) string { return filepath.Join(e.home, ".config", "containers", "auth.json") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newConfigureEnv(t, "")
			for k, v := range tc.env(e) {
				e.env[k] = v
			}
			want := tc.want(e)
			require.NoError(t, os.MkdirAll(filepath.Dir(want), 0o700))
			require.NoError(t, os.WriteFile(want, []byte(`{"auths": {"quay.io": {"auth": "cTpx"}}, "credHelpers": {"registry.redhat.io": "rh"}}`), 0o600))
			r := e.run(t, "--containers-auth", "myreg.azurecr.io")
			require.Equal(t, 0, r.code, r.stderr)
			assert.Contains(t, r.stdout, "wrote "+want)
			got := cfgDecodeJSON(t, cfgReadFile(t, want))
			assert.Equal(t, map[string]any{"registry.redhat.io": "rh", "myreg.azurecr.io": "acr"}, got["credHelpers"])
			assert.Equal(t, map[string]any{"quay.io": map[string]any{"auth": "cTpx"}}, got["auths"])
			assert.NoFileExists(t, e.dockerConfig(), "Docker's config is not touched")
			if tc.name == "then XDG_RUNTIME_DIR" {
				assert.Contains(t, r.stderr, "emptied at logout")
			}
		})
	}
}

func TestConfigurePathWarning(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, "")
	e.env["PATH"] = filepath.Join(e.root, "empty-bin")
	r := e.run(t, "myreg.azurecr.io")
	require.Equal(t, 0, r.code)
	assert.Contains(t, r.stderr, "docker-credential-acr is not on PATH")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	assert.Contains(t, r.stdout, "wrote", "a warning, not a refusal")
}

func TestConfigureUsage(t *testing.T) {
	t.Parallel()
	e := newConfigureEnv(t, "")
	r := e.run(t, "--bogus", "myreg.azurecr.io")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "Usage:")
	assert.NoDirExists(t, filepath.Dir(e.dockerConfig()))
	r = e.run(t, "--help")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "--containers-auth")
	// "--" ends the flags.
	r = e.run(t, "--", "--dry-run")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `"--dry-run" is not an https registry host name`)
}
