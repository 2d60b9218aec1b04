package cache

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Helper processes: the test binary re-executed with helperEnv naming a mode.
// They run with umask 0 so that every file they create shows the modes this
// package sets itself, not ones a umask happened to fix.
const (
	helperEnv = "CACHE_TEST_HELPER" // mode
	dirEnv    = "CACHE_TEST_DIR"
	idEnv     = "CACHE_TEST_ID"
	countEnv  = "CACHE_TEST_COUNT"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		syscall.Umask(0)
		if err := runHelper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(mode string) error {
	dir, id := os.Getenv(dirEnv), os.Getenv(idEnv)
	n, _ := strconv.Atoi(os.Getenv(countEnv))
	s, err := Open(dir, "tokens.json", WithLockTimeout(time.Minute))
	if err != nil {
		return err
	}
	ctx := context.Background()
	switch mode {
	case "update": // n Updates, each adding key <id>-<i>
		for i := range n {
			if err := s.Update(ctx, addKey(fmt.Sprintf("%s-%d", id, i))); err != nil {
				return err
			}
		}
	case "crash": // Updates until killed; prints i after Update i returned
		w := bufio.NewWriter(os.Stdout)
		for i := 0; ; i++ {
			if err := s.Update(ctx, addKey(fmt.Sprintf("%s-%d", id, i))); err != nil {
				return err
			}
			fmt.Fprintln(w, i)
			if err := w.Flush(); err != nil {
				return err
			}
		}
	case "lockkey": // holds LockKey(id), says so, waits for stdin to close
		unlock, err := s.LockKey(ctx, id)
		if err != nil {
			return err
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		unlock()
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	return nil
}

// addKey returns an Update function adding one entry with a sizeable secret,
// so that the file grows and writes take a while.
func addKey(k string) func(map[string]Entry) error {
	return func(m map[string]Entry) error {
		m[k] = Entry{Registry: "r.azurecr.io", Kind: "basic", Username: k, Secret: secretFor(k)}
		return nil
	}
}

func secretFor(k string) string { return fmt.Sprintf("%s-%0200d", k, 7) }

// helper starts the test binary in mode; stdout is a pipe the caller reads.
func helper(t *testing.T, mode, dir, id string, count int) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		helperEnv+"="+mode, dirEnv+"="+dir, idEnv+"="+id, countEnv+"="+strconv.Itoa(count))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(stdout), stdin
}
