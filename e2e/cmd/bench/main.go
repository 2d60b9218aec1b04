// Command bench measures docker-credential-acr against its performance
// targets (make bench) and prints one line per figure:
//
//	name  value  target  PASS|FAIL
//
// It runs the real binary against the in-process emulator (loopback only)
// and exits non-zero when a figure misses its target. Timings are medians
// over many runs, helper and yardstick alternated in the same run, after
// warm-up runs; a narrow miss (by less than 20%) is printed as RETRY and
// measured a second time, and the second attempt decides.
//
// Usage (from e2e/): go run ./cmd/bench -helper /abs/path/bin/docker-credential-acr
package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
)

const (
	tenant   = "11111111-1111-1111-1111-111111111111"
	clientID = "bench-ci-app"
	secret   = "bench-ci-secret-PLANTED"
	mainHost = "e2e.azurecr.io"
	notFound = "credentials not found in native keychain"
)

var (
	helperFlag = flag.String("helper", "", "the docker-credential-acr binary (default: build it from this checkout)")
	warmRuns   = flag.Int("warm-runs", 300, "timed runs of each of helper and reference for the warm figure")
	coldRuns   = flag.Int("cold-runs", 40, "timed cold gets (and baseline round trips) per latency")
	latency    = flag.Duration("latency", 50*time.Millisecond, "latency injected on aad.token and acr.exchange for the cold figure")
	verbose    = flag.Bool("v", false, "print details of each figure")
)

// Targets.
const (
	warmRatioTarget   = 1.5
	warmRSSTarget     = 20 << 20
	coldOverhead      = 10 * time.Millisecond
	negFirstTarget    = 2 * time.Second
	negLaterTarget    = 100 * time.Millisecond
	narrowMissPercent = 20 // a miss by less than this gets a second attempt
)

func main() {
	flag.Parse()
	start := time.Now()
	b, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	defer b.close()
	b.machine()

	b.warm()
	b.coldCounts()
	b.coldOverhead()
	b.concurrentOne()
	b.concurrentMany()
	b.parallelStores()
	b.noIdentity()

	fmt.Printf("\ntotal bench time %s\n", time.Since(start).Round(100*time.Millisecond))
	b.close()
	if b.failed > 0 {
		fmt.Printf("%d figure(s) missed their target\n", b.failed)
		os.Exit(1)
	}
	fmt.Println("all figures met their targets")
}

type bench struct {
	emu       *emulator.Emulator
	helper    string
	reference string
	floor     string // the reference linking azidentity (bench/reference/floor.go)
	floorNet  string // the reference linking net/http (bench/reference/floornet.go)
	coldref   string
	maxrss    string // the launcher that measures a child's peak RSS
	work      string // scratch directory
	failed    int
	seq       int
	closed    bool
}

func (b *bench) close() {
	if b.closed {
		return
	}
	b.closed = true
	if b.emu != nil {
		b.emu.Close()
	}
	os.RemoveAll(b.work)
}

// e2eDir is the e2e module's directory (this file is e2e/cmd/bench/main.go).
func e2eDir() string {
	if _, err := os.Stat(filepath.Join("bench", "reference", "main.go")); err == nil {
		d, _ := os.Getwd()
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

func setup() (*bench, error) {
	work, err := os.MkdirTemp("", "acr-bench")
	if err != nil {
		return nil, err
	}
	b := &bench{work: work}
	fail := func(err error) (*bench, error) { b.close(); return nil, err }

	b.helper = *helperFlag
	if b.helper == "" {
		b.helper = filepath.Join(work, "docker-credential-acr")
		if err := goBuild(filepath.Dir(e2eDir()), b.helper, "./cmd/docker-credential-acr"); err != nil {
			return fail(err)
		}
	} else if b.helper, err = filepath.Abs(b.helper); err != nil {
		return fail(err)
	}
	if _, err := os.Stat(b.helper); err != nil {
		return fail(err)
	}
	b.reference = filepath.Join(work, "reference")
	if err := goBuild(e2eDir(), b.reference, "./bench/reference"); err != nil {
		return fail(err)
	}
	b.floor = filepath.Join(work, "floor")
	if err := goBuild(e2eDir(), b.floor, "./bench/reference", "-tags", "floor"); err != nil {
		return fail(err)
	}
	b.floorNet = filepath.Join(work, "floornet")
	if err := goBuild(e2eDir(), b.floorNet, "./bench/reference", "-tags", "floornet"); err != nil {
		return fail(err)
	}
	b.coldref = filepath.Join(work, "coldref")
	if err := goBuild(e2eDir(), b.coldref, "./bench/coldref"); err != nil {
		return fail(err)
	}
	b.maxrss = filepath.Join(work, "maxrss")
	if err := goBuild(e2eDir(), b.maxrss, "./cmd/bench/maxrss"); err != nil {
		return fail(err)
	}

	regs := []emulator.Registry{{Host: mainHost, Tenant: tenant}}
	for i := range 8 {
		regs = append(regs, emulator.Registry{Host: fanoutHost(i), Tenant: tenant})
	}
	if b.emu, err = emulator.Start(emulator.Options{Dir: filepath.Join(work, "emulator"), Registries: regs}); err != nil {
		return fail(err)
	}
	oid := b.emu.AddServicePrincipal(tenant, clientID, secret)
	for _, r := range regs {
		b.emu.AssignRole(r.Host, oid, emulator.Reader)
	}
	return b, nil
}

func fanoutHost(i int) string { return fmt.Sprintf("bench%d.azurecr.io", i) }

// goBuild builds pkg in dir exactly as the Makefile builds the helper.
func goBuild(dir, out, pkg string, flags ...string) error {
	args := append([]string{"build", "-trimpath", "-ldflags", "-s -w", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, o)
	}
	return nil
}

// ---- output ----

func (b *bench) figure(name, value, target string, ok bool) {
	b.attempt(name, value, target, ok, true)
}

// attempt prints a figure; a miss that is not final (it will be measured
// again) is printed as RETRY and not counted.
func (b *bench) attempt(name, value, target string, ok, final bool) {
	verdict := "PASS"
	switch {
	case !ok && !final:
		verdict = "RETRY"
	case !ok:
		verdict = "FAIL"
		b.failed++
	}
	fmt.Printf("%-44s %-34s %-16s %s\n", name, value, target, verdict)
}

func info(name, value string) {
	fmt.Printf("%-44s %-34s %-16s %s\n", name, value, "-", "INFO")
}

func detail(format string, args ...any) {
	if *verbose {
		fmt.Printf("    "+format+"\n", args...)
	}
}

func (b *bench) machine() {
	model := "unknown"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	goVersion := runtime.Version()
	if bi, err := buildinfo.ReadFile(b.helper); err == nil {
		goVersion = bi.GoVersion
	}
	fi, _ := os.Stat(b.helper)
	var size int64
	if fi != nil {
		size = fi.Size()
	}
	fmt.Printf("machine: %d CPUs (nproc), %s, Linux %s, %s/%s\n", runtime.NumCPU(), model,
		strings.TrimSpace(string(kernel)), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("helper:  %s (%s, %.1f MiB)\n", b.helper, goVersion, float64(size)/(1<<20))
	fmt.Printf("cache:   %s (%s)\n\n", b.work, fsType(b.work))
	fmt.Printf("%-44s %-34s %-16s %s\n", "figure", "value", "target", "result")
}

// fsType names the file system of dir, from /proc/self/mountinfo's longest
// matching mount point.
func fsType(dir string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "?"
	}
	best, typ := "", "?"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		i := slices.Index(f, "-")
		if i < 0 || i+1 >= len(f) {
			continue
		}
		mp := f[4]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, typ = mp, f[i+1]
		}
	}
	return typ
}

// ---- running processes ----

type result struct {
	wall   time.Duration
	code   int
	stdout string
	stderr string
}

// run starts bin and waits for it. The wall time runs from just before
// fork/exec to just after wait4, the same for every program timed.
func run(bin string, args, env []string, stdin string) (result, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	r := result{wall: wall, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		return r, err
	}
	return r, nil
}

// start starts bin without waiting, for the concurrency figures.
func start(bin string, env []string, stdin string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer, error) {
	cmd := exec.Command(bin, "get")
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return cmd, &out, &errb, cmd.Start()
}

// machineEnv is the environment of one client machine: a fresh HOME and
// cache directory, the emulator's proxy and CA, no managed identity probe
// (DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY=never: the 169.254.169.254 probe
// is never run here) and no az or azd on PATH.
func (b *bench) machineEnv(withCreds bool) (env []string, cacheDir string) {
	b.seq++
	home := filepath.Join(b.work, fmt.Sprintf("home%d", b.seq))
	cacheDir = filepath.Join(home, ".cache", "docker-credential-acr")
	if err := os.MkdirAll(home, 0o700); err != nil {
		panic(err)
	}
	env = []string{
		"HOME=" + home,
		"PATH=/usr/bin:/bin",
		"DOCKER_CREDENTIAL_ACR_CACHE_DIR=" + cacheDir,
		"DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY=never",
		"TMPDIR=" + os.TempDir(),
	}
	env = append(env, b.emu.Env()...)
	if withCreds {
		env = append(env, "AZURE_TENANT_ID="+tenant, "AZURE_CLIENT_ID="+clientID, "AZURE_CLIENT_SECRET="+secret)
	}
	return env, cacheDir
}

type credentialsAnswer struct {
	ServerURL, Username, Secret string
}

func (b *bench) getOK(env []string, host string) (result, credentialsAnswer, error) {
	r, err := run(b.helper, []string{"get"}, env, host+"\n")
	if err != nil {
		return r, credentialsAnswer{}, err
	}
	var c credentialsAnswer
	if r.code != 0 {
		return r, c, fmt.Errorf("get %s: exit %d: %s %s", host, r.code, strings.TrimSpace(r.stdout), strings.TrimSpace(r.stderr))
	}
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.Secret == "" {
		return r, c, fmt.Errorf("get %s: bad answer %q", host, r.stdout)
	}
	return r, c, nil
}

// ---- statistics ----

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// narrow reports whether value missed target (lower is better) by less than
// narrowMissPercent.
func narrow(value, target float64) bool {
	return value > target && value <= target*(1+narrowMissPercent/100.0)
}

// ---- figure 1: the warm path ----

func (b *bench) warm() {
	env, cacheDir := b.machineEnv(true)
	if _, _, err := b.getOK(env, mainHost); err != nil { // fills the cache
		b.figure("warm get: ratio to reference", "error: "+err.Error(), "<= 1.5x", false)
		return
	}
	tokens := filepath.Join(cacheDir, "tokens.json")
	if r, err := run(b.reference, []string{tokens}, env, mainHost+"\n"); err != nil || r.code != 0 {
		b.figure("warm get: ratio to reference", fmt.Sprintf("reference failed: %v %s", err, r.stdout), "<= 1.5x", false)
		return
	}
	b.emu.ResetCounts()

	ratio, ok := b.warmAttempt(env, tokens, 1)
	if !ok && narrow(ratio, warmRatioTarget) {
		ratio, _ = b.warmAttempt(env, tokens, 2)
	}
	b.warmRSS(env, tokens)
	if n := b.emu.Count("proxy.connect"); n != 0 {
		b.figure("warm get: network connections", strconv.Itoa(n), "0", false)
	} else {
		b.figure("warm get: network connections", "0", "0", true)
	}
	b.inittrace()
}

// warmAttempt times helper and reference alternately (as the target says)
// and prints the ratio; then each floor against the reference the same way,
// in passes of their own, for context.
func (b *bench) warmAttempt(env []string, tokens string, attempt int) (float64, bool) {
	const name = "warm get: ratio to reference"
	suffix := ""
	if attempt > 1 {
		suffix = fmt.Sprintf(" (attempt %d)", attempt)
	}
	helper := timed{bin: b.helper, args: []string{"get"}, ok: func(r result) bool { return r.code == 0 && strings.Contains(r.stdout, `"Secret"`) }}
	ref := timed{bin: b.reference, args: []string{tokens}, ok: func(r result) bool { return r.code == 0 }}
	mh, mr, err := b.alternate(env, helper, ref, *warmRuns)
	if err != nil {
		b.figure(name+suffix, "error: "+err.Error(), "<= 1.5x", false)
		return 0, false
	}
	ratio := float64(mh.median) / float64(mr.median)
	info("warm get: helper median (p10/p90)"+suffix, mh.String())
	info("warm get: reference median (p10/p90)"+suffix, mr.String())
	for _, f := range []struct{ what, bin string }{{"net/http", b.floorNet}, {"azidentity", b.floor}} {
		floor := timed{bin: f.bin, args: []string{tokens}, ok: ref.ok}
		mf, mr2, err := b.alternate(env, floor, ref, *warmRuns/2)
		if err != nil {
			info("warm get: floor (reference+"+f.what+")"+suffix, "error: "+err.Error())
			continue
		}
		info("warm get: floor (reference+"+f.what+")"+suffix, fmt.Sprintf("%.2fx reference (%s / %s)",
			float64(mf.median)/float64(mr2.median), ms(mf.median), ms(mr2.median)))
	}
	ok := ratio <= warmRatioTarget
	final := attempt > 1 || !narrow(ratio, warmRatioTarget)
	b.attempt(name+suffix, fmt.Sprintf("%.2fx (+%s)", ratio, ms(mh.median-mr.median)), "<= 1.5x", ok, final)
	return ratio, ok
}

// timed is a program the warm figures time, and how to tell it answered.
type timed struct {
	bin  string
	args []string
	ok   func(result) bool
}

// timing is the summary of a program's timed runs.
type timing struct {
	median, p10, p90 time.Duration
	n                int
}

func (t timing) String() string {
	return fmt.Sprintf("%s (%s/%s) n=%d", ms(t.median), ms(t.p10), ms(t.p90), t.n)
}

// alternate runs a and b alternately, in ABBA order so that a drift in the
// machine's speed hits both alike, after warm-up runs (page cache, CPU
// frequency, the parent's runtime).
func (b *bench) alternate(env []string, x, y timed, runs int) (timing, timing, error) {
	once := func(p timed) (time.Duration, error) {
		r, err := run(p.bin, p.args, env, mainHost+"\n")
		if err == nil && !p.ok(r) {
			err = fmt.Errorf("%s failed: exit %d %s", filepath.Base(p.bin), r.code, r.stdout)
		}
		return r.wall, err
	}
	for range 30 {
		for _, p := range []timed{x, y} {
			if _, err := once(p); err != nil {
				return timing{}, timing{}, err
			}
		}
	}
	var xt, yt []time.Duration
	for i := range runs {
		first, second := x, y
		if i%2 == 1 {
			first, second = y, x
		}
		for _, p := range []timed{first, second} {
			d, err := once(p)
			if err != nil {
				return timing{}, timing{}, err
			}
			if p.bin == x.bin {
				xt = append(xt, d)
			} else {
				yt = append(yt, d)
			}
		}
	}
	sum := func(ds []time.Duration) timing {
		return timing{median: median(ds), p10: percentile(ds, 10), p90: percentile(ds, 90), n: len(ds)}
	}
	return sum(xt), sum(yt), nil
}

// warmRSS measures the peak RSS of warm gets through the maxrss launcher
// (see cmd/bench/maxrss for why not directly): max over 40 runs.
func (b *bench) warmRSS(env []string, tokens string) {
	out := filepath.Join(b.work, "maxrss.out")
	measure := func(args ...string) (int64, error) {
		r, err := run(b.maxrss, append([]string{out}, args...), env, mainHost+"\n")
		if err != nil {
			return 0, err
		}
		if r.code != 0 {
			return 0, fmt.Errorf("%s: exit %d: %s", filepath.Base(args[0]), r.code, strings.TrimSpace(r.stdout+" "+r.stderr))
		}
		data, err := os.ReadFile(out)
		if err != nil {
			return 0, err
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		return kib * 1024, err
	}
	floor, err := measure("/bin/true")
	if err != nil {
		b.figure("warm get: peak RSS (max of 40)", "error: "+err.Error(), "<= 20 MiB", false)
		return
	}
	var hs, rs []int64
	for range 40 {
		h, err := measure(b.helper, "get")
		if err != nil {
			b.figure("warm get: peak RSS (max of 40)", "error: "+err.Error(), "<= 20 MiB", false)
			return
		}
		r, err := measure(b.reference, tokens)
		if err != nil {
			b.figure("warm get: peak RSS (max of 40)", "error: "+err.Error(), "<= 20 MiB", false)
			return
		}
		hs, rs = append(hs, h), append(rs, r)
	}
	maxH := slices.Max(hs)
	info("warm get: reference peak RSS (max of 40)", fmt.Sprintf("%s (launcher floor %s)", mib(slices.Max(rs)), mib(floor)))
	b.figure("warm get: peak RSS (max of 40)", fmt.Sprintf("%s (median %s)", mib(maxH), mib(medianInt(hs))), "<= 20 MiB", maxH <= warmRSSTarget)
}

func medianInt(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// inittrace sums the package init clock of `version` (GODEBUG=inittrace=1)
// over several runs, per package, and prints the total and the top 10.
func (b *bench) inittrace() {
	const runs = 21
	per := map[string][]float64{}
	var totals, refTotals []float64
	var lastInitAt []float64
	for range runs {
		r, err := run(b.helper, []string{"version"}, []string{"GODEBUG=inittrace=1"}, "")
		if err != nil || r.code != 0 {
			info("init: helper version", fmt.Sprintf("error: %v", err))
			return
		}
		sum, last := 0.0, 0.0
		seen := map[string]float64{}
		for _, line := range strings.Split(r.stderr, "\n") {
			pkg, at, clock, ok := parseInit(line)
			if !ok {
				continue
			}
			seen[pkg] += clock
			sum += clock
			last = max(last, at+clock)
		}
		for p, c := range seen {
			per[p] = append(per[p], c)
		}
		totals = append(totals, sum)
		lastInitAt = append(lastInitAt, last)

		rr, err := run(b.reference, nil, []string{"GODEBUG=inittrace=1"}, "")
		if err == nil {
			s := 0.0
			for _, line := range strings.Split(rr.stderr, "\n") {
				if _, _, c, ok := parseInit(line); ok {
					s += c
				}
			}
			refTotals = append(refTotals, s)
		}
	}
	type pc struct {
		pkg   string
		clock float64
	}
	var list []pc
	for p, cs := range per {
		list = append(list, pc{p, medianF(cs)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].clock > list[j].clock })
	info("init: helper, sum of init clock (median)", fmt.Sprintf("%.3f ms over %d packages", medianF(totals), len(per)))
	info("init: helper, last init ends at (median)", fmt.Sprintf("%.2f ms after start", medianF(lastInitAt)))
	info("init: reference, sum of init clock", fmt.Sprintf("%.3f ms", medianF(refTotals)))
	fmt.Println("    top 10 package inits of the helper (median clock over", runs, "runs of `version`):")
	for _, p := range list[:min(10, len(list))] {
		fmt.Printf("      %-80s %.3f ms\n", p.pkg, p.clock)
	}
}

// parseInit parses "init PKG @A ms, C ms clock, B bytes, N allocs".
func parseInit(line string) (pkg string, at, clock float64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "init" || !strings.HasPrefix(f[2], "@") {
		return "", 0, 0, false
	}
	at, err1 := strconv.ParseFloat(strings.TrimPrefix(f[2], "@"), 64)
	clock, err2 := strconv.ParseFloat(f[4], 64)
	if err1 != nil || err2 != nil {
		return "", 0, 0, false
	}
	return f[1], at, clock, true
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// ---- figure 2: one cold get ----

var unwanted = []string{"msi", "az", "aad.discovery", "proxy.refused"}

// coldCounts checks what one cold get with environment credentials sends:
// one Azure AD token request, one exchange, nothing else probed.
func (b *bench) coldCounts() {
	const rounds = 5
	bad := ""
	var metadata []int
	for range rounds {
		env, _ := b.machineEnv(true)
		b.emu.ResetCounts()
		if _, _, err := b.getOK(env, mainHost); err != nil {
			bad = err.Error()
			break
		}
		c := b.emu.Counts()
		metadata = append(metadata, c["aad.metadata"])
		detail("cold get counts: %v", c)
		if c["aad.token"] != 1 || c["acr.exchange"] != 1 {
			bad = fmt.Sprintf("aad.token=%d acr.exchange=%d", c["aad.token"], c["acr.exchange"])
			break
		}
		for _, n := range unwanted {
			if c[n] != 0 {
				bad = fmt.Sprintf("%s=%d", n, c[n])
			}
		}
		if refused := b.emu.RefusedHosts(); len(refused) > 0 {
			bad = fmt.Sprintf("proxy refused %v", refused)
		}
		if bad != "" {
			break
		}
	}
	if bad != "" {
		b.figure("cold get: requests", bad, "1 token+1 exch.", false)
		return
	}
	b.figure("cold get: requests (each of 5 gets)", "aad.token=1 acr.exchange=1", "1 token+1 exch.", true)
	b.figure("cold get: other probes", "msi=0 az=0 aad.discovery=0 refused=0", "0", true)
	info("cold get: aad.metadata per get", fmt.Sprint(metadata))
}

// ---- figure 3: the cold get's own overhead ----

// coldOverhead measures what a cold get costs beyond the two round trips it
// cannot avoid, with latency L injected on aad.token and acr.exchange.
//
// The yardstick (PASS/FAIL) is bench/coldref: a minimal Go program built
// like the helper, started as a process like the helper, that sends exactly
// the two required requests (client credentials token request, exchange)
// over fresh connections through the same proxy, and prints the answer. It
// pays what any client process pays: process start, TLS handshakes with a
// cold crypto stack, the two round trips with their latency. So
//
//	overhead = median(helper cold get) - median(coldref)
//
// is what the helper adds: its larger binary's start-up, azidentity/MSAL
// (including MSAL's OpenID metadata request), the cache lock, write and
// fsyncs. Helper and coldref alternate, each get on a fresh cache.
//
// Also shown: an in-process client (already running, warm crypto) doing the
// same two requests, i.e. the bare round-trip time, so that
// median(helper) - median(in-process) is the whole cost of a cold get beyond
// the network, process start included; and the same at L=0, whose
// difference to L shows the latency the helper pays beyond 2L (an extra
// round trip to a slowed endpoint would show as +L).
func (b *bench) coldOverhead() {
	o, ok := b.coldOverheadAttempt(1)
	if !ok && narrow(float64(o), float64(coldOverhead)) {
		b.coldOverheadAttempt(2)
	}
}

type coldSample struct{ helper, ref, inproc []time.Duration }

func (b *bench) coldMeasure(l time.Duration) (coldSample, error) {
	b.emu.ClearFaults()
	if l > 0 {
		b.emu.InjectFault("aad.token", emulator.Fault{Latency: l})
		b.emu.InjectFault("acr.exchange", emulator.Fault{Latency: l})
	}
	defer b.emu.ClearFaults()
	var s coldSample
	for i := range *coldRuns + 3 {
		env, _ := b.machineEnv(true)
		var hw, rw time.Duration
		steps := []func() error{
			func() error {
				r, _, err := b.getOK(env, mainHost)
				hw = r.wall
				return err
			},
			func() error {
				r, err := run(b.coldref, nil, env, mainHost+"\n")
				if err == nil && (r.code != 0 || !strings.Contains(r.stdout, `"Secret":"ey`)) {
					err = fmt.Errorf("coldref: exit %d: %s", r.code, strings.TrimSpace(r.stdout))
				}
				rw = r.wall
				return err
			},
		}
		if i%2 == 1 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return s, err
			}
		}
		bt, err := b.baselineRoundTrips()
		if err != nil {
			return s, err
		}
		if i >= 3 { // the first three are warm-up
			s.helper, s.ref, s.inproc = append(s.helper, hw), append(s.ref, rw), append(s.inproc, bt)
		}
	}
	return s, nil
}

func (b *bench) coldOverheadAttempt(attempt int) (time.Duration, bool) {
	suffix := ""
	if attempt > 1 {
		suffix = fmt.Sprintf(" (attempt %d)", attempt)
	}
	name := fmt.Sprintf("cold get: overhead vs coldref, L=%s%s", *latency, suffix)
	s0, err := b.coldMeasure(0)
	if err != nil {
		b.figure(name, "error: "+err.Error(), "<= 10 ms", false)
		return 0, false
	}
	sl, err := b.coldMeasure(*latency)
	if err != nil {
		b.figure(name, "error: "+err.Error(), "<= 10 ms", false)
		return 0, false
	}
	h0, r0, i0 := median(s0.helper), median(s0.ref), median(s0.inproc)
	hl, rl, il := median(sl.helper), median(sl.ref), median(sl.inproc)
	info("cold get: L=0  helper/coldref/in-process"+suffix, ms(h0)+" / "+ms(r0)+" / "+ms(i0))
	info(fmt.Sprintf("cold get: L=%s helper/coldref/in-process%s", *latency, suffix), ms(hl)+" / "+ms(rl)+" / "+ms(il))
	info("cold get: latency paid beyond 2L"+suffix, fmt.Sprintf("%s (%.2f x L; coldref %.2f x L)",
		ms((hl-h0)-2**latency), float64(hl-h0)/float64(*latency), float64(rl-r0)/float64(*latency)))
	info("cold get: helper - in-process round trips"+suffix, fmt.Sprintf("%s (L=0: %s)", ms(hl-il), ms(h0-i0)))
	overhead := hl - rl
	ok := overhead <= coldOverhead
	final := attempt > 1 || !narrow(float64(overhead), float64(coldOverhead))
	b.attempt(name, fmt.Sprintf("%s (L=0: %s)", ms(overhead), ms(h0-r0)), "<= 10 ms", ok, final)
	return overhead, ok
}

// baselineRoundTrips is the yardstick of coldOverhead: the two requests a
// cold get needs, from a fresh client, timed.
func (b *bench) baselineRoundTrips() (time.Duration, error) {
	tr := b.emu.Transport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx := context.Background()
	t0 := time.Now()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret},
		"scope": {"https://containerregistry.azure.net/.default"}}
	var aad struct {
		AccessToken string `json:"access_token"`
	}
	if err := postForm(ctx, client, "https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/token", form, &aad); err != nil {
		return 0, err
	}
	var x struct {
		RefreshToken string `json:"refresh_token"`
	}
	form = url.Values{"grant_type": {"access_token"}, "service": {mainHost}, "tenant": {tenant}, "access_token": {aad.AccessToken}}
	if err := postForm(ctx, client, "https://"+mainHost+"/oauth2/exchange", form, &x); err != nil {
		return 0, err
	}
	d := time.Since(t0)
	if x.RefreshToken == "" {
		return 0, errors.New("baseline: no refresh token")
	}
	return d, nil
}

func postForm(ctx context.Context, c *http.Client, u string, form url.Values, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("baseline: %s: HTTP %d", u, resp.StatusCode)
	}
	return json.Unmarshal(body, v)
}

// ---- figures 4 and 5: concurrent cold gets ----

type proc struct {
	host     string
	cmd      *exec.Cmd
	out, err *bytes.Buffer
}

// burst starts every (host) get at once on one machine and waits for all;
// it checks that each answered with the same secret per host.
func (b *bench) burst(hosts []string) (time.Duration, error) {
	env, _ := b.machineEnv(true)
	procs := make([]proc, 0, len(hosts))
	t0 := time.Now()
	var startErr error
	for _, h := range hosts {
		cmd, out, errb, err := start(b.helper, env, h+"\n")
		if err != nil {
			startErr = err
			break
		}
		procs = append(procs, proc{h, cmd, out, errb})
	}
	secrets := map[string]string{}
	var firstErr error
	for _, p := range procs {
		err := p.cmd.Wait()
		if err == nil {
			var c credentialsAnswer
			if jerr := json.Unmarshal(p.out.Bytes(), &c); jerr != nil || c.Secret == "" {
				err = fmt.Errorf("bad answer %q", p.out.String())
			} else if s, seen := secrets[p.host]; seen && s != c.Secret {
				err = fmt.Errorf("%s: two different tokens handed out", p.host)
			} else {
				secrets[p.host] = c.Secret
			}
		} else {
			err = fmt.Errorf("%s: %v: %s %s", p.host, err, strings.TrimSpace(p.out.String()), strings.TrimSpace(p.err.String()))
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	wall := time.Since(t0)
	if startErr != nil {
		return wall, startErr
	}
	return wall, firstErr
}

// concurrentOne: 64 cold gets for one registry at once.
func (b *bench) concurrentOne() {
	b.storm("64 concurrent cold gets, 1 registry", "aad.token=1 acr.exchange=1", "1 token+1 exch.", []string{mainHost}, 64)
}

// concurrentMany: 8 gets for each of 8 registries, all 64 at once on one
// machine (one cache directory).
func (b *bench) concurrentMany() {
	const regs = 8
	hosts := make([]string, regs)
	for r := range hosts {
		hosts[r] = fanoutHost(r)
	}
	b.storm("8x8 concurrent cold gets, 8 registries", "aad.token=8 acr.exchange=1 per reg.", "1 each", hosts, 8)
}

// storm runs per cold gets for each registry, all at once, three rounds,
// with latency on the token and exchange endpoints so that they surely
// overlap; each round must cost one Azure AD token request and one exchange
// per registry, and nothing else.
func (b *bench) storm(name, success, target string, registries []string, per int) {
	const rounds = 3
	var hosts []string
	for range per {
		hosts = append(hosts, registries...)
	}
	b.emu.InjectFault("aad.token", emulator.Fault{Latency: *latency})
	b.emu.InjectFault("acr.exchange", emulator.Fault{Latency: *latency})
	defer b.emu.ClearFaults()
	var walls []time.Duration
	for range rounds {
		b.emu.ResetCounts()
		wall, err := b.burst(hosts)
		if err != nil {
			b.figure(name, "error: "+err.Error(), target, false)
			return
		}
		walls = append(walls, wall)
		c := b.emu.Counts()
		detail("%s counts: %v", name, c)
		var bad []string
		if c["aad.token"] != len(registries) {
			bad = append(bad, fmt.Sprintf("aad.token=%d", c["aad.token"]))
		}
		for _, r := range registries {
			if n := c["acr.exchange@"+r]; n != 1 {
				bad = append(bad, fmt.Sprintf("acr.exchange@%s=%d", r, n))
			}
		}
		if c["msi"]+c["az"]+c["aad.discovery"]+c["proxy.refused"] != 0 {
			bad = append(bad, "unwanted probes")
		}
		if len(bad) > 0 {
			b.figure(name, strings.Join(bad, " "), target, false)
			return
		}
	}
	b.figure(fmt.Sprintf("%s (x%d)", name, rounds), success, target, true)
	info(name+": wall (median)", fmt.Sprintf("%s (L=%s)", ms(median(walls)), *latency))
}

// parallelStores: 200 `docker login`s at once on one machine: each store
// takes the stored-credentials lock and fsyncs; all must land.
func (b *bench) parallelStores() {
	const n = 200
	const name = "200 parallel stores"
	env, _ := b.machineEnv(false)
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	t0 := time.Now()
	for i := range n {
		cmd := exec.Command(b.helper, "store")
		cmd.Env = env
		cmd.Stdin = strings.NewReader(fmt.Sprintf(`{"ServerURL":"s%d.azurecr.io","Username":"u%d","Secret":"p%d"}`, i, i, i))
		outs[i] = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			b.figure(name, "error: "+err.Error(), "all land", false)
			return
		}
		cmds[i] = cmd
	}
	failed := 0
	var firstErr string
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			failed++
			if firstErr == "" {
				firstErr = strings.TrimSpace(outs[i].String())
			}
		}
	}
	wall := time.Since(t0)
	r, err := run(b.helper, []string{"list"}, env, "")
	var listed map[string]string
	if err == nil && r.code == 0 {
		err = json.Unmarshal([]byte(r.stdout), &listed)
	}
	ok := failed == 0 && err == nil && len(listed) == n
	value := fmt.Sprintf("failed=%d stored=%d in %s", failed, len(listed), ms(wall))
	if firstErr != "" {
		value += ": " + firstErr
	}
	b.figure(name, value, "all land", ok)
}

// ---- figure 6: no identity at all ----

// noIdentity: nothing configured, no Azure variables, no az or azd on PATH,
// and the managed identity switched off. The IMDS probe (a 300 ms TCP
// connect to 169.254.169.254, remembered for 10 minutes) that
// DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY=auto would add to the first call
// on a machine outside Azure is deliberately not exercised here: this bench
// never sends traffic off loopback.
func (b *bench) noIdentity() {
	env, _ := b.machineEnv(false)
	b.emu.ResetCounts()
	check := func(r result, err error) error {
		if err != nil {
			return err
		}
		if r.code != 1 || strings.TrimSpace(r.stdout) != notFound {
			return fmt.Errorf("want exit 1 and %q, got exit %d %q", notFound, r.code, r.stdout)
		}
		return nil
	}
	first, err := run(b.helper, []string{"get"}, env, mainHost+"\n")
	if err := check(first, err); err != nil {
		b.figure("no identity: first get", "error: "+err.Error(), "< 2 s", false)
		return
	}
	detail("no identity stderr: %s", strings.TrimSpace(first.stderr))
	var later []time.Duration
	for range 40 {
		r, err := run(b.helper, []string{"get"}, env, mainHost+"\n")
		if err := check(r, err); err != nil {
			b.figure("no identity: later gets", "error: "+err.Error(), "< 100 ms", false)
			return
		}
		later = append(later, r.wall)
	}
	b.figure("no identity: first get", ms(first.wall), "< 2 s", first.wall < negFirstTarget)
	b.figure("no identity: later gets (median of 40)", fmt.Sprintf("%s (max %s)", ms(median(later)), ms(slices.Max(later))), "< 100 ms", median(later) < negLaterTarget)
	n := 0
	for _, v := range b.emu.Counts() {
		n += v
	}
	b.figure("no identity: requests sent", strconv.Itoa(n), "0", n == 0)
	fmt.Println("    (run with DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY=never and no az/azd on PATH: the IMDS probe,")
	fmt.Println("     a 300 ms TCP connect to 169.254.169.254 remembered for 10 min, is not exercised on this machine)")
}
