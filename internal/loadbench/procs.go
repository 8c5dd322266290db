package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on waiting for processes.
const (
	startTimeout = 30 * time.Second
	// stopTimeout is long because aadproxy flushes its recording on SIGTERM.
	stopTimeout = 3 * time.Minute
	// settleMax bounds the wait for a proxy to finish work deferred past a
	// measurement window. It is long because aadproxy's inspection can fall
	// far behind (entra-error-c8), and the next target must not share the
	// CPU with that backlog.
	settleMax  = 10 * time.Minute
	settleStep = 200 * time.Millisecond
	tailMax    = 8 << 10
)

// proc is a target process, started in this benchmark's session (no
// setsid: on these kernels a new session is its own CPU-share group, which
// capped a proxy at a third of the machine).
type proc struct {
	name    string
	cmd     *exec.Cmd
	addr    string
	stderr  *tailWriter
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// startProc starts cmd and waits until it listens: until it prints
// "listening on ADDR" on stderr, or, when port is set, until 127.0.0.1:port
// accepts connections (mitmdump says nothing with -q).
func startProc(ctx context.Context, name string, cmd *exec.Cmd, stdout io.Writer, port string) (*proc, error) {
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	p := &proc{name: name, cmd: cmd, stderr: &tailWriter{listen: make(chan string, 1)}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	cmd.Stdout = stdout
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	fail := func(err error) (*proc, error) {
		p.kill()
		return nil, err
	}
	if port == "" {
		select {
		case p.addr = <-p.stderr.listen:
			return p, nil
		case <-p.exited:
			return nil, fmt.Errorf("%s exited at start (%v): %s", name, p.waitErr, p.stderr.tail())
		case <-deadline.C:
			return fail(fmt.Errorf("%s did not say where it listens within %s: %s", name, startTimeout, p.stderr.tail()))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	p.addr = net.JoinHostPort("127.0.0.1", port)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-tick.C:
		case <-p.exited:
			return nil, fmt.Errorf("%s exited at start (%v): %s", name, p.waitErr, p.stderr.tail())
		case <-deadline.C:
			return fail(fmt.Errorf("%s did not accept connections on %s within %s: %s", name, p.addr, startTimeout, p.stderr.tail()))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
}

// alive reports a process that died while it should be serving.
func (p *proc) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited during the run (%v): %s", p.name, p.waitErr, p.stderr.tail())
	default:
		return nil
	}
}

// stop sends SIGTERM and waits; it returns the process's exit error, which
// only aadproxy's caller checks (the others die of the signal).
func (p *proc) stop() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s had already exited (%v): %s", p.name, p.waitErr, p.stderr.tail())
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM", p.name, stopTimeout)
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w: %s", p.name, p.waitErr, p.stderr.tail())
	}
	return nil
}

// kill ends the process at once (kill -9) and waits for it.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// cpuTicks returns the process's utime+stime in clock ticks (USER_HZ, 100
// on Linux).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time: %w", err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0, fmt.Errorf("read CPU time: odd /proc/%d/stat", pid)
	}
	// Fields 14 and 15 (utime, stime), counted from "state", field 3.
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("read CPU time: odd /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("read CPU time: odd /proc/%d/stat", pid)
	}
	return ut + st, nil
}

const tickDuration = 10 * time.Millisecond // USER_HZ = 100

// settle waits until the process uses at most one tick in settleStep (or
// settleMax passed) and returns its CPU ticks then, so work a proxy defers
// past the window, such as a recorder catching up, is charged to the
// window and does not slow the next target's.
// It also returns how long the process stayed busy.
func settle(ctx context.Context, pid int) (ticks int64, busy time.Duration, settled bool, err error) {
	last, err := cpuTicks(pid)
	if err != nil {
		return 0, 0, false, err
	}
	start := time.Now()
	for time.Since(start) < settleMax && ctx.Err() == nil {
		time.Sleep(settleStep)
		t, err := cpuTicks(pid)
		if err != nil {
			return 0, 0, false, err
		}
		if t-last <= 1 {
			return t, time.Since(start) - settleStep, true, nil
		}
		last = t
	}
	return last, time.Since(start), false, nil
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes.
// Targets start afresh for each scenario, so it is that scenario's peak.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read peak RSS: %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("read peak RSS: no VmHWM in /proc/%d/status", pid)
}

var listenRE = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

// tailWriter keeps the last bytes a process wrote to stderr, for error
// messages, and reports the address it says it listens on.
type tailWriter struct {
	mu     sync.Mutex
	buf    []byte
	listen chan string
	sent   bool
}

func (t *tailWriter) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if !t.sent {
		if m := listenRE.FindSubmatch(t.buf); m != nil {
			t.listen <- string(m[1])
			t.sent = true
		}
	}
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(b), nil
}

func (t *tailWriter) tail() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(bytes.TrimSpace(t.buf))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
