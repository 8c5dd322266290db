package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/fakests"
	"github.com/aadproxy/aadproxy/internal/sysproxy"
	"github.com/aadproxy/aadproxy/internal/sysproxy/gnometest"
)

// aadproxyProc is the aadproxy binary (this test binary) with its stderr
// read line by line, and its stdout's lines sent to a channel.
type aadproxyProc struct {
	cmd    *exec.Cmd
	lines  chan string
	stdout chan string
	mu     sync.Mutex
	stderr strings.Builder
	exited chan error
}

func runAadproxy(t *testing.T, args ...string) *aadproxyProc {
	t.Helper()
	p := &aadproxyProc{lines: make(chan string, 1000), stdout: make(chan string, 1000), exited: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), runMainEnv+"=1", "NO_COLOR=1")
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			select {
			case p.stdout <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
		p.exited <- p.cmd.Wait()
	}()
	return p
}

// waitFor reads stderr until a line contains s, and returns it.
func (p *aadproxyProc) waitFor(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("aadproxy ended before saying %q:\n%s", s, p.output())
			}
			if strings.Contains(line, s) {
				return line
			}
		case <-timeout:
			t.Fatalf("aadproxy did not say %q:\n%s", s, p.output())
		}
	}
}

func (p *aadproxyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *aadproxyProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	for range p.lines {
	}
	if err := <-p.exited; err != nil {
		t.Fatalf("aadproxy did not stop cleanly: %v\n%s", err, p.output())
	}
}

// hangUp sends SIGHUP, as a closed terminal does, and waits for a clean
// exit.
func (p *aadproxyProc) hangUp(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGHUP)
	for range p.lines {
	}
	if err := <-p.exited; err != nil {
		t.Fatalf("aadproxy did not stop cleanly on SIGHUP: %v\n%s", err, p.output())
	}
}

// crash kills aadproxy with SIGKILL: it cannot restore anything.
func (p *aadproxyProc) crash(t *testing.T) {
	t.Helper()
	p.cmd.Process.Kill()
	for range p.lines {
	}
	<-p.exited
}

// TestSystemProxyGNOME runs `aadproxy start --system-proxy` against GNOME's
// real proxy setting in a private D-Bus session (its dconf database in a
// temporary folder; the machine's settings are never touched): the setting
// points at the proxy while it runs and is byte for byte as before after
// SIGTERM; after kill -9, the next start, or `aadproxy system-proxy
// restore`, puts it back and says so.
func TestSystemProxyGNOME(t *testing.T) {
	s := gnometest.Start(t)
	s.Setenv(t)
	home := t.TempDir()
	// What GNOME Settings leaves after a corporate proxy was switched
	// off, plus an ignored host that would bypass the sign-in.
	for _, kv := range [][]string{
		{"org.gnome.system.proxy", "mode", "none"},
		{"org.gnome.system.proxy.http", "host", "proxy.corp"},
		{"org.gnome.system.proxy.http", "port", "3128"},
		{"org.gnome.system.proxy", "ignore-hosts", "['localhost', '127.0.0.0/8', '::1', '.microsoftonline.com', 'intranet.corp']"},
	} {
		s.Run(t, append([]string{"gsettings", "set"}, kv...)...)
	}
	before, beforeDB := s.Proxy(t), s.Database(t)
	get := func(schema, key string) string {
		return strings.TrimSpace(s.Run(t, "gsettings", "get", schema, key))
	}
	start := func(extra ...string) (*aadproxyProc, string) {
		p := runAadproxy(t, append([]string{"start", "--listen", "127.0.0.1:0", "--offline", "--no-ui", "--home", home}, extra...)...)
		addr := listenRE.FindStringSubmatch(p.waitFor(t, "listening on"))[1]
		return p, addr
	}
	restoredAsBefore := func(when string) {
		t.Helper()
		if after := s.Proxy(t); after != before {
			t.Errorf("%s: GNOME's proxy setting is\n%s\nwant, as before,\n%s", when, after, before)
		}
		if !bytes.Equal(s.Database(t), beforeDB) {
			t.Errorf("%s: the dconf database is not byte for byte as before", when)
		}
		if _, err := os.Stat(filepath.Join(home, sysproxy.StateFile)); !os.IsNotExist(err) {
			t.Errorf("%s: the saved state is still there (%v)", when, err)
		}
	}

	// A clean run: set while it runs, put back on SIGTERM.
	p, addr := start("--system-proxy")
	p.waitFor(t, "system proxy: GNOME proxy setting (gsettings org.gnome.system.proxy) now points at "+addr)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	for _, c := range []struct{ schema, key, want string }{
		{"org.gnome.system.proxy", "mode", "'manual'"},
		{"org.gnome.system.proxy.http", "host", "'127.0.0.1'"},
		{"org.gnome.system.proxy.http", "port", port},
		{"org.gnome.system.proxy.https", "host", "'127.0.0.1'"},
		{"org.gnome.system.proxy.https", "port", port},
		{"org.gnome.system.proxy", "ignore-hosts", "['localhost', '127.0.0.0/8', '::1', 'intranet.corp']"},
	} {
		if got := get(c.schema, c.key); got != c.want {
			t.Errorf("while aadproxy runs: %s %s = %s, want %s", c.schema, c.key, got, c.want)
		}
	}
	st, err := sysproxy.LoadState(home)
	if err != nil || st == nil || st.PID != p.cmd.Process.Pid {
		t.Fatalf("saved state: %+v, %v; want one naming pid %d", st, err, p.cmd.Process.Pid)
	}
	if fi, _ := os.Stat(filepath.Join(home, sysproxy.StateFile)); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("saved state mode: %v, want 0600", fi)
	}
	// A second aadproxy leaves the setting to the first.
	second, _ := start("--system-proxy")
	second.waitFor(t, "already points the system proxy at "+addr)
	second.stop(t)
	if got := get("org.gnome.system.proxy.http", "port"); got != port {
		t.Errorf("after a second aadproxy stopped, http port = %s, want the first's %s", got, port)
	}
	p.stop(t)
	if !strings.Contains(p.output(), "system proxy: restored GNOME proxy setting (gsettings org.gnome.system.proxy) as it was") {
		t.Errorf("on stop, aadproxy did not say it restored the setting:\n%s", p.output())
	}
	restoredAsBefore("after SIGTERM")

	// A crash: the next start puts the setting back, and says so.
	p, _ = start("--system-proxy")
	p.waitFor(t, "now points at")
	crashed := p.cmd.Process.Pid
	p.crash(t)
	if got := get("org.gnome.system.proxy", "mode"); got != "'manual'" {
		t.Fatalf("after kill -9, mode = %s; the test expects it still set", got)
	}
	if out := aadproxyOutput(t, "system-proxy", "status", "--home", home); !strings.Contains(out, "gone: `aadproxy system-proxy restore`") ||
		!strings.Contains(out, "org.gnome.system.proxy mode: 'manual'") || !strings.Contains(out, "org.gnome.system.proxy.http port: 3128") {
		t.Errorf("system-proxy status after a crash:\n%s", out)
	}
	next, _ := start("--system-proxy")
	next.waitFor(t, "now points at") // aadproxy handles SIGTERM and SIGHUP from here on
	if signal.Ignored(syscall.SIGHUP) {
		next.stop(t) // started under nohup: aadproxy leaves SIGHUP ignored too
	} else {
		next.hangUp(t) // a closed terminal
	}
	for _, want := range []string{
		"system proxy: aadproxy " + strconv.Itoa(crashed) + " pointed it at",
		"stopped without putting it back; restoring it now",
		"restored GNOME proxy setting (gsettings org.gnome.system.proxy) as it was",
	} {
		if !strings.Contains(next.output(), want) {
			t.Errorf("the start after a crash did not say %q:\n%s", want, next.output())
		}
	}
	restoredAsBefore("after kill -9 and the next start")

	// A crash, then `aadproxy system-proxy restore`.
	p, _ = start("--system-proxy")
	p.waitFor(t, "now points at")
	p.crash(t)
	if out := aadproxyOutput(t, "system-proxy", "restore", "--home", home); !strings.Contains(out, "restored GNOME proxy setting") {
		t.Errorf("system-proxy restore did not say it restored the setting:\n%s", out)
	}
	if out := aadproxyOutput(t, "system-proxy", "restore", "--home", home); !strings.Contains(out, "nothing to restore") {
		t.Errorf("a second system-proxy restore:\n%s", out)
	}
	restoredAsBefore("after kill -9 and system-proxy restore")
}

// aadproxyOutput runs an aadproxy command to its end and returns its
// output.
func aadproxyOutput(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aadproxy %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestChromiumOnGNOMEFollowsTheSystemProxy checks that --system-proxy
// reaches a real client: headless Chromium with no proxy flag, on a GNOME
// desktop (XDG_CURRENT_DESKTOP=GNOME in the private session), reads GNOME's
// setting and loads the fake Entra's sign-in page through aadproxy.
func TestChromiumOnGNOMEFollowsTheSystemProxy(t *testing.T) {
	browser := chromiumPath(t)
	s := gnometest.Start(t)
	s.Setenv(t)
	sts, stsCA := stsFixture(t)
	home := t.TempDir()
	p := runAadproxy(t, "start", "--listen", "127.0.0.1:0", "--offline", "--no-ui", "--json", "--home", home, "--system-proxy",
		"--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	p.waitFor(t, "now points at")
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	authorize := "https://login.microsoftonline.com/" + fakests.TenantContoso.ID +
		"/oauth2/v2.0/authorize?client_id=" + fakests.AppPublic.ClientID +
		"&response_type=code&redirect_uri=http%3A%2F%2Flocalhost&scope=openid&state=system-proxy"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(append([]string{}, chromiumFlags...),
		"--user-data-dir="+filepath.Join(t.TempDir(), "profile"),
		"--ignore-certificate-errors-spki-list="+ca.SPKIHash(),
		"--dump-dom", authorize)
	out, _ := exec.CommandContext(ctx, browser, args...).CombinedOutput() // the captured flow is the test
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line := <-p.stdout:
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil || m["type"] != "flow" {
				continue
			}
			if u, _ := m["url"].(string); strings.Contains(u, "state=system-proxy") {
				if m["status"] != 200.0 {
					t.Errorf("authorize flow from Chromium: %v", m)
				}
				p.stop(t)
				return
			}
		case <-timeout:
			t.Fatalf("no flow from Chromium through the system proxy\nchromium said: %s\naadproxy said: %s", truncateForLog(out), p.output())
		}
	}
}
