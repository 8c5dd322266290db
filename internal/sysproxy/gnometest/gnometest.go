// Package gnometest runs a private D-Bus session whose dconf database lives
// in a temporary folder, so tests drive the real gsettings (and aadproxy
// --system-proxy) without touching the settings of the machine or its user.
// It owns nothing but that session; it must never run gsettings or dconf
// outside it.
package gnometest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tools are the programs a session needs (Debian: dbus-daemon, dbus-bin,
// libglib2.0-bin, gsettings-desktop-schemas, dconf-gsettings-backend,
// dconf-service; dconf is dconf-cli). scripts/test installs them.
var Tools = []string{"dbus-daemon", "gsettings", "dconf"}

// Session is a private D-Bus session bus with dconf behind it.
type Session struct {
	// Env is what a process needs to use the session and nothing else:
	// HOME, XDG_CONFIG_HOME, XDG_RUNTIME_DIR and XDG_CACHE_HOME in the
	// temporary folder, DBUS_SESSION_BUS_ADDRESS, GSETTINGS_BACKEND=dconf
	// and XDG_CURRENT_DESKTOP=GNOME.
	Env []string
	Dir string
}

// Start starts a session and stops it when the test ends. It skips the
// test when a tool is missing, unless CI=true, where it fails.
func Start(t testing.TB) *Session {
	t.Helper()
	for _, tool := range Tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed (scripts/test installs it)", tool)
			}
			t.Skipf("%s not installed (scripts/test installs it)", tool)
		}
	}
	if _, err := os.Stat("/usr/share/glib-2.0/schemas/org.gnome.system.proxy.gschema.xml"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("GNOME's proxy schema is not installed (gsettings-desktop-schemas)")
	}
	// A short path: a unix socket's path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "gnome")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	home := filepath.Join(dir, "home")
	runtime := filepath.Join(dir, "run")
	for _, d := range []string{home, runtime} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	bus := "unix:path=" + filepath.Join(runtime, "bus")
	s := &Session{Dir: dir, Env: []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_RUNTIME_DIR=" + runtime,
		"DBUS_SESSION_BUS_ADDRESS=" + bus,
		"GSETTINGS_BACKEND=dconf",
		"XDG_CURRENT_DESKTOP=GNOME",
	}}
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address="+bus, "--print-address=1")
	cmd.Env = s.environ()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The daemon prints its address once it listens.
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ready <- sc.Scan()
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("dbus-daemon exited before listening")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dbus-daemon did not start")
	}
	return s
}

// environ is this process's environment with the session's variables in
// place of any it had: a test run from a desktop must not reach its bus.
func (s *Session) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "XDG_") && !strings.HasPrefix(k, "DBUS_") && !strings.HasPrefix(k, "GSETTINGS_") && k != "HOME" && k != "GIO_USE_PROXY_RESOLVER" {
			env = append(env, kv)
		}
	}
	return append(env, s.Env...)
}

// Setenv puts the session's variables into the test's environment, so
// processes it starts (the aadproxy binary) use the session.
func (s *Session) Setenv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"GIO_USE_PROXY_RESOLVER", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_SESSION_TYPE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Run runs a command (gsettings, dconf) in the session and returns its
// standard output; it fails the test when the command fails.
func (s *Session) Run(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = s.environ()
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// Proxy is `gsettings list-recursively org.gnome.system.proxy` and `dconf
// dump /system/proxy/`: every key's value, and which keys have a value of
// their own. Two equal readings mean the settings are as they were.
func (s *Session) Proxy(t testing.TB) string {
	t.Helper()
	return s.Values(t) + "-- dconf:\n" + s.Run(t, "dconf", "dump", "/system/proxy/")
}

// Values is `gsettings list-recursively org.gnome.system.proxy`: every
// key's value, as applications read it.
func (s *Session) Values(t testing.TB) string {
	t.Helper()
	return s.Run(t, "gsettings", "list-recursively", "org.gnome.system.proxy")
}

// Database is the dconf database file, byte for byte (nil before the
// first write).
func (s *Session) Database(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.Dir, "home", ".config", "dconf", "user"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return data
}
