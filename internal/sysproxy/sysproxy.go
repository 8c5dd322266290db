// Package sysproxy points the operating system's proxy setting at aadproxy
// while it runs and puts the previous setting back afterwards: Windows'
// per-user WinINET settings (the registry values browsers and .NET read,
// then the change notification they listen for), macOS's networksetup for
// each enabled network service, and GNOME's org.gnome.system.proxy through
// gsettings.
//
// Every backend is a Settings: named keys that are read and written one at
// a time, each as a Value in the OS's own notation. The package plans the
// changes (what each key is and what it will be), applies them, reading
// each back to check it took, and restores them in reverse order. A key
// that someone changed while aadproxy ran is left as they set it and
// reported, never overwritten. The commands and registry calls go through
// a Runner or a Registry that tests replace, so the macOS and Windows plans
// are tested on Linux.
//
// The package must not decide when to change the settings, nor print
// anything: cmd/aadproxy saves the plan (State, in aadproxy's home, with
// the pid that made it) before applying it, restores at exit, and restores
// after a crash on the next start.
package sysproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Value is one setting as the OS holds it.
type Value struct {
	// Text is the value in the OS's own notation: GVariant text for
	// gsettings ('manual', 8080, ['localhost', '::1']), a registry value's
	// data (a DWORD in decimal), networksetup's proxy state ("on
	// 127.0.0.1:8080").
	Text string `json:"text"`
	// Unset means the setting had no value of its own: a gsettings key at
	// its default, a registry value that does not exist. Restoring it
	// resets or deletes rather than writing Text.
	Unset bool `json:"unset,omitempty"`
	// Type is a registry value's type (DWORD, SZ, EXPAND_SZ); empty
	// elsewhere.
	Type string `json:"type,omitempty"`
}

func (v Value) String() string {
	switch {
	case v.Unset && v.Text == "":
		return "(not set)"
	case v.Text == "":
		return "(empty)"
	}
	if v.Unset {
		return v.Text + " (default)"
	}
	return v.Text
}

// same reports whether two readings are the same value. Unset is not
// compared: a gsettings key set to its default value reads the same as one
// never set, and both act alike. A registry value that does not exist has
// no Type, so it never equals an empty string.
func same(a, b Value) bool { return a.Text == b.Text && a.Type == b.Type }

// Change is one setting aadproxy changes.
type Change struct {
	Key    string `json:"key"`
	Before Value  `json:"before"`
	After  Value  `json:"after"`
}

// Target is where the system proxy should point, and which bypass entries
// must go because they would keep clients away from the proxy.
type Target struct {
	Host string // a loopback address: 127.0.0.1 or ::1
	Port int
	// Bypasses reports a bypass-list entry that would make clients skip
	// the proxy for a host aadproxy decrypts (proxy.Scope.Bypasses); nil
	// keeps every entry.
	Bypasses func(entry string) bool
}

// TargetFor returns the Target for a proxy listening on addr: an
// unspecified listen address (0.0.0.0, ::) is reached on loopback.
func TargetFor(addr string, bypasses func(string) bool) (Target, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Target{}, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return Target{}, fmt.Errorf("port %q", port)
	}
	switch ip := net.ParseIP(host); {
	case host == "" || ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return Target{Host: host, Port: p, Bypasses: bypasses}, nil
}

// HostPort is the target as host:port.
func (t Target) HostPort() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

func (t Target) bypasses(entry string) bool { return t.Bypasses != nil && t.Bypasses(entry) }

// Settings is one OS's proxy setting.
type Settings interface {
	// ID names the backend in the saved state: "gnome", "wininet",
	// "networksetup".
	ID() string
	// Name says which settings, for people.
	Name() string
	// Keys lists the settings this backend changes, in the order they are
	// written: the one that switches the proxy on comes last.
	Keys() ([]string, error)
	// Read returns a key's current value.
	Read(key string) (Value, error)
	// Want returns the value that points key at t, given its value before;
	// before itself when the key needs no change.
	Want(key string, before Value, t Target) Value
	// Write sets key to v (v.Unset: resets or deletes it).
	Write(key string, v Value) error
	// Notify tells running applications that the settings changed
	// (WinINET); the others need not.
	Notify() error
}

// Plan reads the settings and returns the changes that point them at t.
// Keys already as wanted are left out.
func Plan(s Settings, t Target) ([]Change, error) {
	keys, err := s.Keys()
	if err != nil {
		return nil, err
	}
	var out []Change
	for _, k := range keys {
		before, err := s.Read(k)
		if err != nil {
			return nil, err
		}
		if after := s.Want(k, before, t); !same(after, before) {
			out = append(out, Change{Key: k, Before: before, After: after})
		}
	}
	return out, nil
}

// Apply makes the changes in order, reading each key back to check it took
// (networksetup, for one, reports some failures with exit status 0). The
// returned changes hold what the OS reads back. When a change fails, the
// ones already made are restored and the error says what happened.
func Apply(s Settings, changes []Change) ([]Change, error) {
	done := make([]Change, 0, len(changes))
	for _, c := range changes {
		err := s.Write(c.Key, c.After)
		var got Value
		if err == nil {
			got, err = s.Read(c.Key)
		}
		if err == nil && !same(got, c.After) {
			err = fmt.Errorf("%s: set to %s, but it reads %s", c.Key, c.After, got)
		}
		if err != nil {
			// The key may have changed even though the write failed.
			if cur, rerr := s.Read(c.Key); rerr == nil && !same(cur, c.Before) {
				c.After = cur
				done = append(done, c)
			}
			_, rerr := Restore(s, done)
			return nil, errors.Join(err, rerr)
		}
		c.After = got
		done = append(done, c)
	}
	return done, s.Notify()
}

// Result is what Restore did.
type Result struct {
	Restored []Change
	// Kept are keys someone changed while aadproxy ran: left as they are.
	Kept []Kept
}

// Kept is a key Restore left alone, with its value now.
type Kept struct {
	Change
	Now Value
}

// Restore puts back, in reverse order, every key that still holds what
// Apply set; keys changed since are kept and listed. It carries on past a
// failing key and returns every error.
func Restore(s Settings, changes []Change) (Result, error) {
	var res Result
	var errs []error
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		now, err := s.Read(c.Key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !same(now, c.After) {
			res.Kept = append(res.Kept, Kept{Change: c, Now: now})
			continue
		}
		if err := s.Write(c.Key, c.Before); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Restored = append(res.Restored, c)
	}
	if len(res.Restored) > 0 {
		if err := s.Notify(); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// ErrUnavailable is wrapped by Detect's error when this system has no
// proxy setting aadproxy knows how to change.
var ErrUnavailable = errors.New("no system proxy setting aadproxy can change here")

// Env describes the machine for Detect.
type Env struct {
	GOOS   string
	Getenv func(string) string
	// LookPath finds a program (exec.LookPath).
	LookPath func(string) (string, error)
	Run      Runner
}

// DefaultEnv is this machine.
func DefaultEnv(goos string) Env {
	return Env{GOOS: goos, Getenv: os.Getenv, LookPath: exec.LookPath, Run: Exec}
}

// Detect returns the settings of this system, or an error wrapping
// ErrUnavailable that says why there are none.
func Detect(env Env) (Settings, error) {
	switch env.GOOS {
	case "windows":
		return openWinINET()
	case "darwin":
		ns, err := env.LookPath("networksetup")
		if err != nil {
			// An app started from the Dock has a PATH without /usr/sbin.
			if ns, err = env.LookPath("/usr/sbin/networksetup"); err != nil {
				return nil, fmt.Errorf("%w: networksetup not found", ErrUnavailable)
			}
		}
		return MacSettings{Networksetup: ns, Run: env.Run}, nil
	default:
		return detectGNOME(env)
	}
}

// Runner runs a command with extra environment variables and returns its
// standard output; a failure's error carries its standard error. Tests
// replace it; Exec is the real one.
type Runner func(env []string, args ...string) ([]byte, error)

// commandTimeout bounds one command: gsettings waits on D-Bus, which can
// hang when the session's bus is gone.
const commandTimeout = 15 * time.Second

// Exec runs args[0] with the rest as arguments, its environment this
// process's plus env.
func Exec(env []string, args ...string) ([]byte, error) {
	if len(args) == 0 {
		return nil, errors.New("no command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(string(out))
		}
		return out, fmt.Errorf("%s: %v: %s", CommandLine(args), err, msg)
	}
	return out, nil
}

// CommandLine quotes args for a POSIX shell, for messages.
func CommandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:,=@%+", r))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = `'` + strings.ReplaceAll(a, `'`, `'\''`) + `'`
	}
	return strings.Join(q, " ")
}

// StateFile is the saved state's name in aadproxy's home.
const StateFile = "system-proxy.json"

// State is what aadproxy changed, saved before it changes anything so that
// a later start can put the settings back after a crash.
type State struct {
	// PID is the aadproxy process that changed the settings; while it
	// runs, it restores them itself.
	PID     int       `json:"pid"`
	Backend string    `json:"backend"` // Settings.ID
	Name    string    `json:"name"`    // Settings.Name, for messages
	Proxy   string    `json:"proxy"`   // host:port the settings point at
	Time    time.Time `json:"time"`
	Changes []Change  `json:"changes"`
}

// LoadState reads the state saved in home; nil when there is none.
func LoadState(home string) (*State, error) {
	path := filepath.Join(home, StateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &st, nil
}

// Save writes the state into home, private to the user (0600), through a
// temporary file and a rename, so a crash never leaves half a file.
func (st State) Save(home string) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	path := filepath.Join(home, StateFile)
	tmp, err := os.CreateTemp(home, ".system-proxy-*.tmp")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// RemoveState deletes the saved state; a missing file is not an error.
func RemoveState(home string) error {
	err := os.Remove(filepath.Join(home, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
