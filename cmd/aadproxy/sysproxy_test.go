package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/internal/sysproxy"
)

// fakeSettings is a system proxy setting in memory (the real ones are
// tested in internal/sysproxy and, for GNOME, through the binary).
type fakeSettings struct {
	vals   map[string]sysproxy.Value
	failOn string
}

func (f *fakeSettings) ID() string              { return "fake" }
func (f *fakeSettings) Name() string            { return "fake proxy setting" }
func (f *fakeSettings) Keys() ([]string, error) { return []string{"server", "enabled"}, nil }
func (f *fakeSettings) Read(k string) (sysproxy.Value, error) {
	return f.vals[k], nil
}
func (f *fakeSettings) Want(k string, before sysproxy.Value, t sysproxy.Target) sysproxy.Value {
	if k == "enabled" {
		return sysproxy.Value{Text: "yes"}
	}
	return sysproxy.Value{Text: t.HostPort()}
}
func (f *fakeSettings) Write(k string, v sysproxy.Value) error {
	if k == f.failOn {
		return errors.New("access denied")
	}
	f.vals[k] = v
	return nil
}
func (f *fakeSettings) Notify() error { return nil }

func useFakeSystemProxy(t *testing.T, f *fakeSettings) {
	old := detectSystemProxy
	detectSystemProxy = func() (sysproxy.Settings, error) { return f, nil }
	t.Cleanup(func() { detectSystemProxy = old })
}

func TestSystemProxyFlagIsStartsOnly(t *testing.T) {
	o, err := parseStart([]string{"--system-proxy"}, io.Discard)
	if err != nil || !o.systemProxy {
		t.Errorf("parseStart(--system-proxy): %+v, %v", o.systemProxy, err)
	}
	// run and browser have proxies of their own, for one client: the
	// flag would change every other application's setting.
	if code := run([]string{"run", "--system-proxy", "--", "true"}, io.Discard, io.Discard); code != exitBadInput {
		t.Errorf("run --system-proxy: exit %d, want %d", code, exitBadInput)
	}
}

func TestSystemProxyThatCannotBeChangedLeavesNothingBehind(t *testing.T) {
	f := &fakeSettings{vals: map[string]sysproxy.Value{"server": {Text: "corp:3128"}, "enabled": {Text: "no"}}, failOn: "enabled"}
	useFakeSystemProxy(t, f)
	home := t.TempDir()
	var out bytes.Buffer
	sp := startSystemProxy(home, startOptions{systemProxy: true}, "127.0.0.1:8080", &out)
	if sp != nil {
		t.Fatal("startSystemProxy succeeded although a key could not be written")
	}
	if !strings.Contains(out.String(), "could not change fake proxy setting") || !strings.Contains(out.String(), "access denied") ||
		!strings.Contains(out.String(), "the proxy runs") {
		t.Errorf("startSystemProxy said:\n%s", out.String())
	}
	if f.vals["server"].Text != "corp:3128" {
		t.Errorf("after a failed change, server = %s, want corp:3128", f.vals["server"].Text)
	}
	if _, err := os.Stat(filepath.Join(home, sysproxy.StateFile)); !os.IsNotExist(err) {
		t.Errorf("a failed change left its saved state: %v", err)
	}
}

func TestSystemProxyRestoreKeepsWhatTheUserChanged(t *testing.T) {
	f := &fakeSettings{vals: map[string]sysproxy.Value{"server": {Text: "corp:3128"}, "enabled": {Text: "no"}}}
	useFakeSystemProxy(t, f)
	home := t.TempDir()
	var out bytes.Buffer
	sp := startSystemProxy(home, startOptions{systemProxy: true}, "0.0.0.0:8080", &out)
	if sp == nil {
		t.Fatalf("startSystemProxy failed:\n%s", out.String())
	}
	if f.vals["server"].Text != "127.0.0.1:8080" || f.vals["enabled"].Text != "yes" {
		t.Fatalf("while running: %v", f.vals)
	}
	f.vals["server"] = sysproxy.Value{Text: "other:1"} // the user picked another proxy meanwhile
	out.Reset()
	sp.restore(&out)
	sp.restore(&out) // once only
	if f.vals["server"].Text != "other:1" || f.vals["enabled"].Text != "no" {
		t.Errorf("after restore: %v, want the user's server kept and enabled put back", f.vals)
	}
	if got := out.String(); strings.Count(got, "restored fake proxy setting") != 1 ||
		!strings.Contains(got, "left server as other:1: it changed while aadproxy ran") {
		t.Errorf("restore said:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(home, sysproxy.StateFile)); !os.IsNotExist(err) {
		t.Errorf("after restore the saved state is still there: %v", err)
	}
}

func TestSystemProxyRestoreCommand(t *testing.T) {
	f := &fakeSettings{vals: map[string]sysproxy.Value{"server": {Text: "127.0.0.1:8080"}, "enabled": {Text: "yes"}}}
	useFakeSystemProxy(t, f)
	home := t.TempDir()
	st := sysproxy.State{PID: os.Getppid(), Backend: "fake", Name: "fake proxy setting", Proxy: "127.0.0.1:8080", Changes: []sysproxy.Change{
		{Key: "server", Before: sysproxy.Value{Text: "corp:3128"}, After: sysproxy.Value{Text: "127.0.0.1:8080"}},
		{Key: "enabled", Before: sysproxy.Value{Text: "no"}, After: sysproxy.Value{Text: "yes"}},
	}}
	if err := st.Save(home); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	// The pid that changed it (this test's parent) still runs.
	if code := run([]string{"system-proxy", "restore", "--home", home}, &stdout, &stderr); code != exitFindings || !strings.Contains(stderr.String(), "--force") {
		t.Errorf("restore while its aadproxy runs: exit %d, %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"system-proxy", "status", "--home", home}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "running: it restores the setting when it stops") {
		t.Errorf("status: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"system-proxy", "restore", "--force", "--home", home}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "restored fake proxy setting as it was") {
		t.Errorf("restore --force: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if f.vals["server"].Text != "corp:3128" || f.vals["enabled"].Text != "no" {
		t.Errorf("after restore: %v", f.vals)
	}
	if code := run([]string{"system-proxy", "bogus"}, io.Discard, io.Discard); code != exitBadInput {
		t.Errorf("system-proxy bogus: exit %d, want %d", code, exitBadInput)
	}
}

// After a reboot the new aadproxy may be given the pid of the one that
// crashed: the saved setting is its own pid then, and recovery must still
// put the setting back rather than wait for an owner that is gone.
func TestSystemProxyRecoversWhenThisProcessHasTheCrashedPid(t *testing.T) {
	f := &fakeSettings{vals: map[string]sysproxy.Value{"server": {Text: "corp:3128"}, "enabled": {Text: "no"}}}
	useFakeSystemProxy(t, f)
	home := t.TempDir()
	var out bytes.Buffer
	if sp := startSystemProxy(home, startOptions{systemProxy: true}, "127.0.0.1:8080", &out); sp == nil {
		t.Fatalf("startSystemProxy failed:\n%s", out.String())
	}
	st, err := sysproxy.LoadState(home)
	if err != nil || st == nil || st.PID != os.Getpid() {
		t.Fatalf("saved state %+v, %v: want this process's pid", st, err)
	}
	out.Reset()
	recoverSystemProxy(home, &out) // what the next start does first
	if f.vals["server"].Text != "corp:3128" || f.vals["enabled"].Text != "no" {
		t.Errorf("after recovery: %v, want the setting as it was\n%s", f.vals, out.String())
	}
}
