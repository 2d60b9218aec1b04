package harness

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// LookDocker finds the docker CLI on the test process's PATH.
func LookDocker() (string, error) { return exec.LookPath("docker") }

// LookSkopeo finds skopeo on the test process's PATH.
func LookSkopeo() (string, error) { return exec.LookPath("skopeo") }

// SkopeoBinary returns the path of skopeo, or skips the test when it is not
// installed (CI installs it with apt-get; see .ci/run).
func SkopeoBinary(tb testing.TB) string {
	tb.Helper()
	p, err := LookSkopeo()
	if err != nil {
		tb.Skip("skopeo is not installed (apt-get install skopeo); .ci/run installs it")
	}
	return p
}

// DockerBinary returns the path of the docker CLI, or skips the test when it
// is not installed. No daemon is needed by the commands the scenarios use.
func DockerBinary(tb testing.TB) string {
	tb.Helper()
	p, err := LookDocker()
	if err != nil {
		tb.Skip("the docker CLI is not installed")
	}
	return p
}

// Skopeo runs skopeo in e. It installs an accept-anything signature policy
// in the machine's ~/.config/containers/policy.json first (containers/image
// prefers it to /etc/containers/policy.json), so that copies work whatever
// the host's policy says.
func (e *Env) Skopeo(tb testing.TB, args ...string) Result {
	tb.Helper()
	bin := SkopeoBinary(tb)
	dir := filepath.Join(e.Dir, ".config", "containers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	policy := `{"default": [{"type": "insecureAcceptAnything"}]}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "policy.json"), []byte(policy), 0o600); err != nil {
		tb.Fatal(err)
	}
	return e.Run(tb, "", bin, args...)
}

// Docker runs the docker CLI in e with stdin. DOCKER_HOST names a socket
// that does not exist, so the CLI never talks to a daemon that may run on
// this machine: `docker login` then checks the credentials itself (through
// the emulator's proxy) and `docker manifest inspect` is client-side anyway.
func (e *Env) Docker(tb testing.TB, stdin string, args ...string) Result {
	tb.Helper()
	bin := DockerBinary(tb)
	e.mu.Lock()
	_, set := e.vars["DOCKER_HOST"]
	e.mu.Unlock()
	if !set {
		e.Set("DOCKER_HOST", "unix://"+filepath.Join(e.Dir, "no-docker-daemon.sock"))
	}
	return e.Run(tb, stdin, bin, args...)
}

// Secrets collects the secrets a scenario planted (client secrets,
// passwords, ...) so that the scenario's cleanup can check that none of them
// leaked into what the helper wrote. Safe for concurrent use.
type Secrets struct {
	mu   sync.Mutex
	list []string
}

// Plant records secrets (empty strings are ignored) and returns the first.
func (s *Secrets) Plant(secrets ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if v != "" {
			s.list = append(s.list, v)
		}
	}
	if len(secrets) == 0 {
		return ""
	}
	return secrets[0]
}

// List returns the planted secrets.
func (s *Secrets) List() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.list...)
}

// WatchSecrets registers a cleanup that fails tb when anything the helper
// wrote in e (stdout, stderr, the debug log) contains one of the planted
// secrets, or a JWT ("eyJ..."), anywhere but in the Secret field of a
// credentials answer on stdout, which is where a `get` is supposed to put
// them. Secrets planted after the call are checked too.
func (e *Env) WatchSecrets(tb testing.TB, s *Secrets) {
	tb.Helper()
	tb.Cleanup(func() { AssertNoSecrets(tb, e, s.List()...) })
}

// AssertNoSecrets is the check WatchSecrets registers, run now.
func AssertNoSecrets(tb testing.TB, e *Env, secrets ...string) {
	tb.Helper()
	out := e.HelperOutput(tb)
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	checked := 0
	for _, name := range names {
		text := string(out[name])
		if strings.HasSuffix(name, ".out") {
			text = withoutAnswerSecret(text)
		}
		checked++
		for _, s := range secrets {
			if strings.Contains(text, s) {
				tb.Errorf("helper output %s leaks planted secret %q:\n%s", name, s, clip(text))
			}
		}
		if i := strings.Index(text, "eyJ"); i >= 0 {
			tb.Errorf("helper output %s contains a JWT-looking string at byte %d:\n%s", name, i, clip(text))
		}
	}
	if checked == 0 {
		tb.Errorf("no helper output recorded in %s: the leak check checked nothing", e.LogDir)
	}
}

// withoutAnswerSecret blanks the Secret of a credentials answer
// ({"ServerURL","Username","Secret"}); anything else is returned unchanged.
func withoutAnswerSecret(stdout string) string {
	var answer map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &answer); err != nil {
		return stdout
	}
	if _, ok := answer["Secret"]; !ok {
		return stdout
	}
	for k := range answer {
		if k != "ServerURL" && k != "Username" && k != "Secret" {
			return stdout // not a credentials answer: check every byte
		}
	}
	answer["Secret"] = json.RawMessage(`"<secret>"`)
	b, _ := json.Marshal(answer)
	return string(b)
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}
