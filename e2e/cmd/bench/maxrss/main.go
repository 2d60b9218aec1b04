// Command maxrss runs a program and writes the peak resident set size of
// that program (wait4's ru_maxrss from os/exec's ProcessState.SysUsage, in
// KiB) to a file.
//
// The bench cannot read that figure for the helper directly: on Linux,
// ru_maxrss includes the peak RSS of the address space a process replaced at
// exec, and os/exec starts children with vfork semantics (the child runs in
// the parent's address space until exec). A child of the bench process, which
// holds the emulator and a registry in memory, therefore reports at least the
// bench's own RSS (about 26 MiB), whatever it runs. This launcher is small, so
// the floor it imposes is low; the bench reports it (maxrss OUT /bin/true).
//
// Usage: maxrss OUTFILE PROGRAM [ARGS...]; stdin, stdout and stderr are the
// program's, and so is the exit code.
package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		os.Stderr.WriteString("usage: maxrss OUTFILE PROGRAM [ARGS...]\n")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		os.Stderr.WriteString("maxrss: " + err.Error() + "\n")
		os.Exit(127)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		os.Exit(127)
	}
	if err := os.WriteFile(os.Args[1], []byte(strconv.FormatInt(ru.Maxrss, 10)+"\n"), 0o600); err != nil {
		os.Exit(127)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
