//go:build unix

package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startRunning starts `aadproxy run -- sleep 30` in its own process group,
// as a shell starts a job, and waits until the command runs.
func startRunning(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "--home", t.TempDir(), "--no-ui", "--", "sleep", "30")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "running sleep through") {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("aadproxy run did not start the command")
	}
	time.Sleep(200 * time.Millisecond) // the command is started right after the line
	return cmd
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 0
	case <-time.After(20 * time.Second):
		t.Fatal("aadproxy run did not exit after its command was signalled")
		return -1
	}
}

func TestRunLetsSignalsReachTheCommand(t *testing.T) {
	// Ctrl-C in a terminal signals the whole job.
	cmd := startRunning(t)
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	if code := waitExit(t, cmd); code != 128+int(syscall.SIGINT) {
		t.Errorf("after Ctrl-C: exit %d, want %d (the command's, killed by SIGINT)", code, 128+int(syscall.SIGINT))
	}
	// A kill aimed at aadproxy alone is passed on.
	cmd = startRunning(t)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd); code != 128+int(syscall.SIGTERM) {
		t.Errorf("after SIGTERM to aadproxy: exit %d, want %d", code, 128+int(syscall.SIGTERM))
	}
}
