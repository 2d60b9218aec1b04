package hardening

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

type opKind string

const (
	opGet   opKind = "get"
	opStore opKind = "store"
	opErase opKind = "erase"
)

type opStatus int

const (
	opOK opStatus = iota
	opKilled
	opFailed
)

// op is one helper process of the crash run.
type op struct {
	i          int
	kind       opKind
	host       string
	user, pass string // store
	start, end time.Time
	status     opStatus
	res        harness.Result
}

// TestCrashSafetyKilledProcesses runs many helper processes at once doing
// get, store and erase on a few registries, killing some with SIGKILL at a
// random moment. Afterwards both cache files parse, every completed store that
// nothing later overwrote or erased is what `get` answers, and every host
// still gets an answer.
func TestCrashSafetyKilledProcesses(t *testing.T) {
	t.Parallel()
	hosts := []string{"crash1.azurecr.io", "crash2.azurecr.io", "crash3.azurecr.io", "crash4.azurecr.io"}
	w := newWorld(t, hosts...)
	procs, total := pick(8, 32), pick(120, 1000)
	environ := withEnv(w.env.Environ(), "DOCKER_CREDENTIAL_ACR_LOG_LEVEL", "warn", "DOCKER_CREDENTIAL_ACR_LOG_FILE", "")
	bin := harness.HelperBinary(t)

	rng := rand.New(rand.NewPCG(7, 11))
	ops := make([]*op, total)
	killAfter := make([]time.Duration, total) // 0: not killed
	for i := range ops {
		o := &op{i: i, host: hosts[rng.IntN(len(hosts))]}
		switch x := rng.IntN(100); {
		case x < 45:
			o.kind = opGet
		case x < 85:
			o.kind = opStore
			o.user, o.pass = fmt.Sprintf("user-%d", i), fmt.Sprintf("pass-%d", i)
		default:
			o.kind = opErase
		}
		ops[i] = o
		if rng.IntN(100) < 20 {
			// Most helper processes live a few milliseconds (a cold get
			// longer): kill anywhere from start-up to the end of a fetch.
			killAfter[i] = time.Duration(200+rng.IntN(15000)) * time.Microsecond
		}
	}

	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				runOp(t, bin, environ, w.env.Dir, ops[i], killAfter[i])
			}
		}()
	}
	for i := range ops {
		work <- i
	}
	close(work)
	wg.Wait()
	took := time.Since(start)

	kills, failed := 0, 0
	for _, o := range ops {
		switch o.status {
		case opKilled:
			kills++
		case opFailed:
			failed++
			t.Errorf("op %d %s %s failed without being killed: %s", o.i, o.kind, o.host, o.res)
		case opOK:
			if o.kind == opGet {
				var ans struct{ Username, Secret string }
				if assert.NoError(t, json.Unmarshal([]byte(o.res.Stdout), &ans), "op %d: %s", o.i, o.res) {
					assert.NotEmpty(t, ans.Secret)
				}
			}
		}
	}

	// Both files parse (and are version 1).
	for _, name := range []string{"credentials.json", "tokens.json"} {
		b, err := os.ReadFile(filepath.Join(w.env.Cache, name))
		require.NoError(t, err, name)
		var f struct {
			Version int                        `json:"version"`
			Entries map[string]json.RawMessage `json:"entries"`
		}
		require.NoError(t, json.Unmarshal(b, &f), "%s does not parse: %q", name, firstN(string(b), 300))
		assert.Equal(t, 1, f.Version, name)
	}
	temps, _ := filepath.Glob(filepath.Join(w.env.Cache, "*.tmp"))

	// Every host: the answer is one the history allows.
	lost := 0
	for _, h := range hosts {
		allowed, desc := allowedFinal(ops, h)
		r, _ := run(t, w.env, h, "get")
		require.Equal(t, 0, r.Code, "final get %s: %s", h, r)
		var ans struct{ Username, Secret string }
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &ans))
		got := ans.Username + ":" + ans.Secret
		if ans.Username == guidUser {
			got = "absent"
		}
		if !allowed[got] {
			lost++
			t.Errorf("%s: get answers %q, but the history allows only %v", h, firstN(got, 40), desc)
		}
	}
	figures.add(t, "processes=%d (at once) operations=%d kills=%d failures=%d entries lost=%d leftover temp files=%d took=%s",
		procs, total, kills, failed, lost, len(temps), took.Round(time.Millisecond))
}

// runOp runs one operation, killing the process after killAfter if set.
func runOp(t *testing.T, bin string, environ []string, dir string, o *op, killAfter time.Duration) {
	stdin := o.host
	if o.kind == opStore {
		stdin = fmt.Sprintf(`{"ServerURL":%q,"Username":%q,"Secret":%q}`, o.host, o.user, o.pass)
	}
	cmd := exec.Command(bin, string(o.kind))
	cmd.Env = environ
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	o.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Errorf("start: %v", err)
		o.status = opFailed
		return
	}
	var timer *time.Timer
	if killAfter > 0 {
		timer = time.AfterFunc(killAfter, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
	}
	err := cmd.Wait()
	o.end = time.Now()
	if timer != nil {
		timer.Stop()
	}
	o.res = harness.Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
		o.status = opOK
	case errors.As(err, &ee):
		o.res.Code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			o.status = opKilled
		} else {
			o.status = opFailed
		}
	default:
		o.status = opFailed
	}
}

// allowedFinal returns the states of host's stored credentials ("user:pass"
// or "absent") that some linearisation of the history allows. Each store or
// erase sets the whole state of its host. An operation is overwritten for
// sure when a completed one started after it ended; every other operation
// may be the last (a killed one only if it got that far), and with no
// completed operation at all the state may still be the initial "absent".
func allowedFinal(ops []*op, host string) (map[string]bool, []string) {
	var muts []*op
	completed := false
	for _, o := range ops {
		if o.host == host && o.kind != opGet {
			muts = append(muts, o)
			completed = completed || o.status == opOK
		}
	}
	allowed := map[string]bool{}
	var desc []string
	if !completed {
		allowed["absent"] = true
		desc = append(desc, "absent (nothing completed)")
	}
	for _, o := range muts {
		overwritten := false
		for _, p := range muts {
			if p.status == opOK && p.start.After(o.end) {
				overwritten = true
				break
			}
		}
		if overwritten {
			continue
		}
		state := "absent"
		if o.kind == opStore {
			state = o.user + ":" + o.pass
		}
		allowed[state] = true
		desc = append(desc, fmt.Sprintf("%s (op %d %s, status %d)", state, o.i, o.kind, o.status))
	}
	return allowed, desc
}

// TestBrokenCacheFiles: a truncated, empty, garbage, wrongly shaped or
// future-version cache file is a miss and the next get answers. tokens.json
// is then rewritten; credentials.json, which holds what a user stored, is
// never replaced unread: store refuses and leaves it for the user.
func TestBrokenCacheFiles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		content func(valid []byte) []byte
	}{
		{"truncated", func(v []byte) []byte { return v[:len(v)/2] }},
		{"truncated at 1 byte", func(v []byte) []byte { return v[:1] }},
		{"empty", func([]byte) []byte { return nil }},
		{"garbage", func([]byte) []byte { return []byte("\x00\x01\xfe garbage }{][ \"version\": 1") }},
		{"not an object", func([]byte) []byte { return []byte(`[1,2,3]`) }},
		{"null", func([]byte) []byte { return []byte(`null`) }},
		{"entries not an object", func([]byte) []byte { return []byte(`{"version":1,"entries":[]}`) }},
		{"future version", func(v []byte) []byte {
			return []byte(strings.Replace(string(v), `"version":1`, `"version":99`, 1))
		}},
		{"version as string", func(v []byte) []byte {
			return []byte(strings.Replace(string(v), `"version":1`, `"version":"1"`, 1))
		}},
		{"entry of the wrong shape", func(v []byte) []byte {
			return []byte(strings.NewReplacer(`"secret":"`, `"secret":["`, `","expiresAt"`, `"],"expiresAt"`).Replace(string(v)))
		}},
		{"huge", func([]byte) []byte {
			return []byte(`{"version":1,"entries":{"x":"` + strings.Repeat("A", 17<<20) + `"}}`)
		}},
	}
	for _, file := range []string{"tokens.json", "credentials.json"} {
		for _, c := range cases {
			t.Run(file+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t)
				path := filepath.Join(w.env.Cache, file)
				r, _ := run(t, w.env, registry, "get")
				require.Equal(t, 0, r.Code, "%s", r)
				if file == "credentials.json" {
					r, _ = run(t, w.env, `{"ServerURL":"`+registry+`","Username":"u","Secret":"stored-pw"}`, "store")
					require.Equal(t, 0, r.Code, "%s", r)
				}
				valid, err := os.ReadFile(path)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(path, c.content(valid), 0o600))

				before := w.emu.Count("acr.exchange")
				r, _ = run(t, w.env, registry, "get")
				require.Equal(t, 0, r.Code, "get after a %s %s: %s", c.name, file, r)
				var ans struct{ Username, Secret string }
				require.NoError(t, json.Unmarshal([]byte(r.Stdout), &ans))
				assert.Equal(t, guidUser, ans.Username, "a broken file is a miss: the token comes from Azure")
				assert.True(t, strings.HasPrefix(ans.Secret, "eyJ"))
				if file == "tokens.json" {
					assert.Equal(t, before+1, w.emu.Count("acr.exchange"), "a broken token file is a miss")
				} else if c.name != "empty" {
					// What a user stored is never replaced unread: store
					// refuses, in one line, and leaves the file as it is.
					broken, err := os.ReadFile(path)
					require.NoError(t, err)
					r, _ = run(t, w.env, `{"ServerURL":"`+registry+`","Username":"u2","Secret":"stored-pw2"}`, "store")
					assert.Equal(t, 1, r.Code, "store over a %s %s: %s", c.name, file, r)
					assert.Contains(t, r.Stdout, "left as it is")
					assert.Equal(t, 1, strings.Count(r.Stdout, "\n"), "one line: %q", r.Stdout)
					after, err := os.ReadFile(path)
					require.NoError(t, err)
					assert.Equal(t, broken, after, "the unreadable %s is untouched", file)
					return
				} else {
					r, _ = run(t, w.env, `{"ServerURL":"`+registry+`","Username":"u2","Secret":"stored-pw2"}`, "store")
					require.Equal(t, 0, r.Code, "store after an empty %s: %s", file, r)
					r, _ = run(t, w.env, registry, "get")
					require.Equal(t, 0, r.Code, "%s", r)
					assert.Contains(t, r.Stdout, `"Secret":"stored-pw2"`)
				}
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				var f struct {
					Version int                        `json:"version"`
					Entries map[string]json.RawMessage `json:"entries"`
				}
				require.NoError(t, json.Unmarshal(b, &f), "%s was not rewritten: %q", file, firstN(string(b), 100))
				assert.Equal(t, 1, f.Version)
				assert.NotEmpty(t, f.Entries)
			})
		}
	}
}
