package sysproxy

import (
	"bytes"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/internal/sysproxy/gnometest"
	"github.com/aadproxy/aadproxy/proxy"
)

func TestGVariantStringsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"['localhost', '127.0.0.0/8', '::1']", []string{"localhost", "127.0.0.0/8", "::1"}},
		{"@as []", []string{}},
		{"[]", []string{}},
		{`["it's", 'a\\b']`, []string{"it's", `a\b`}},
		{`['tab\there', 'caf\u00e9']`, []string{"tab\there", "café"}},
	} {
		got, ok := parseGVariantStrings(tc.text)
		if !ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseGVariantStrings(%q): got %q, %v, want %q", tc.text, got, ok, tc.want)
		}
		again, ok := parseGVariantStrings(gvariantStrings(got))
		if !ok || !reflect.DeepEqual(again, tc.want) {
			t.Errorf("parseGVariantStrings(gvariantStrings(%q)) = %q, %v", got, again, ok)
		}
	}
	for _, bad := range []string{"", "'a'", "['a'", "['a' 'b']", "['a',]", `['\u12']`, "[1, 2]"} {
		if got, ok := parseGVariantStrings(bad); ok {
			t.Errorf("parseGVariantStrings(%q) = %q, want a refusal", bad, got)
		}
	}
	// As GLib prints them (gsettings get), so Apply can compare.
	if got := gvariantStrings([]string{"localhost", "it's", `a\b`}); got != `['localhost', "it's", 'a\\b']` {
		t.Errorf("gvariantStrings: got %s", got)
	}
}

func gnomeTarget(t *testing.T) Target {
	scope, err := proxy.NewScope([]string{"graph.microsoft.com"}, false)
	if err != nil {
		t.Fatal(err)
	}
	return Target{Host: "127.0.0.1", Port: 18080, Bypasses: scope.Bypasses}
}

func TestGNOMEWantDropsIgnoredHostsThatBypassTheScope(t *testing.T) {
	g := GNOME{}
	tg := gnomeTarget(t)
	before := Value{Text: "['localhost', '127.0.0.0/8', '*.microsoftonline.com', 'intranet.corp', 'graph.microsoft.com']"}
	got := g.Want("org.gnome.system.proxy ignore-hosts", before, tg)
	if want := "['localhost', '127.0.0.0/8', 'intranet.corp']"; got.Text != want {
		t.Errorf("Want(ignore-hosts): got %s, want %s", got.Text, want)
	}
	plain := Value{Text: "['localhost', '127.0.0.0/8', '::1']", Unset: true}
	if got := g.Want("org.gnome.system.proxy ignore-hosts", plain, tg); got != plain {
		t.Errorf("Want(ignore-hosts) changed a list with nothing to drop: %v", got)
	}
	for key, want := range map[string]string{
		"org.gnome.system.proxy mode":       "'manual'",
		"org.gnome.system.proxy.http host":  "'127.0.0.1'",
		"org.gnome.system.proxy.https port": "18080",
	} {
		if got := g.Want(key, Value{}, tg); got.Text != want {
			t.Errorf("Want(%s): got %s, want %s", key, got.Text, want)
		}
	}
}

// fakeGsettings answers gsettings and dconf from a map, and logs each
// command that changes something.
type fakeGsettings struct {
	defaults, user map[string]string // "schema key" → GVariant text
	log            []string
}

func (f *fakeGsettings) run(env []string, args ...string) ([]byte, error) {
	switch {
	case args[0] == "dconf" && args[1] == "read":
		for k, v := range f.user {
			s, n := splitGNOMEKey(k)
			if dconfPath(s, n) == args[2] {
				return []byte(v + "\n"), nil
			}
		}
		return nil, nil
	case args[0] != "gsettings":
		return nil, errors.New("unexpected " + args[0])
	}
	key := strings.Join(args[2:4], " ")
	switch args[1] {
	case "get":
		if v, ok := f.user[key]; ok && !(len(env) > 0 && env[0] == "GSETTINGS_BACKEND=memory") {
			return []byte(v + "\n"), nil
		}
		return []byte(f.defaults[key] + "\n"), nil
	case "set":
		f.log = append(f.log, CommandLine(args))
		f.user[key] = args[4]
	case "reset":
		f.log = append(f.log, CommandLine(args))
		delete(f.user, key)
	}
	return nil, nil
}

func TestGNOMECommandsWithAFakeGsettings(t *testing.T) {
	for _, dconf := range []string{"dconf", ""} {
		f := &fakeGsettings{defaults: map[string]string{
			"org.gnome.system.proxy mode":         "'none'",
			"org.gnome.system.proxy ignore-hosts": "['localhost', '127.0.0.0/8', '::1']",
			"org.gnome.system.proxy.http host":    "''",
			"org.gnome.system.proxy.http port":    "8080",
			"org.gnome.system.proxy.https host":   "''",
			"org.gnome.system.proxy.https port":   "0",
		}, user: map[string]string{
			"org.gnome.system.proxy.http host": "'proxy.corp'",
			"org.gnome.system.proxy.http port": "3128",
		}}
		g := GNOME{Gsettings: "gsettings", Dconf: dconf, Run: f.run}
		plan, err := Plan(g, Target{Host: "127.0.0.1", Port: 8080})
		if err != nil {
			t.Fatal(err)
		}
		applied, err := Apply(g, plan)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Restore(g, applied); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"gsettings set org.gnome.system.proxy.http host ''\\''127.0.0.1'\\'''",
			"gsettings set org.gnome.system.proxy.http port 8080",
			"gsettings set org.gnome.system.proxy.https host ''\\''127.0.0.1'\\'''",
			"gsettings set org.gnome.system.proxy.https port 8080",
			"gsettings set org.gnome.system.proxy mode ''\\''manual'\\'''",
			// restore, in reverse order: reset what had no value of its own
			"gsettings reset org.gnome.system.proxy mode",
			"gsettings reset org.gnome.system.proxy.https port",
			"gsettings reset org.gnome.system.proxy.https host",
			"gsettings set org.gnome.system.proxy.http port 3128",
			"gsettings set org.gnome.system.proxy.http host ''\\''proxy.corp'\\'''",
		}
		if !reflect.DeepEqual(f.log, want) {
			t.Errorf("dconf %q: commands\n%s\nwant\n%s", dconf, strings.Join(f.log, "\n"), strings.Join(want, "\n"))
		}
		if len(f.user) != 2 || f.user["org.gnome.system.proxy.http port"] != "3128" {
			t.Errorf("dconf %q: user values after restore: %v", dconf, f.user)
		}
	}
}

func TestDetectGNOMESaysWhyNot(t *testing.T) {
	found := func(name string) (string, error) { return "/usr/bin/" + name, nil }
	missing := func(string) (string, error) { return "", exec.ErrNotFound }
	ok := func(env []string, args ...string) ([]byte, error) { return []byte("true\n"), nil }
	for _, tc := range []struct {
		name string
		vars map[string]string
		look func(string) (string, error)
		run  Runner
		want string // "" for success
	}{
		{"no desktop", map[string]string{}, found, ok, "XDG_CURRENT_DESKTOP is not set"},
		{"KDE", map[string]string{"XDG_CURRENT_DESKTOP": "KDE"}, found, ok, "the desktop is KDE"},
		{"no gsettings", map[string]string{"XDG_CURRENT_DESKTOP": "ubuntu:GNOME", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}, missing, ok, "gsettings not found"},
		{"no bus", map[string]string{"XDG_CURRENT_DESKTOP": "GNOME"}, found, ok, "no D-Bus session bus"},
		{"locked", map[string]string{"XDG_CURRENT_DESKTOP": "GNOME", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}, found,
			func(env []string, args ...string) ([]byte, error) { return []byte("false\n"), nil }, "is locked"},
		{"no schema", map[string]string{"XDG_CURRENT_DESKTOP": "X-Cinnamon", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}, found,
			func(env []string, args ...string) ([]byte, error) { return nil, errors.New("No such schema") }, "not installed"},
		{"GNOME", map[string]string{"XDG_CURRENT_DESKTOP": "ubuntu:GNOME", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}, found, ok, ""},
	} {
		s, err := Detect(Env{GOOS: "linux", Getenv: func(k string) string { return tc.vars[k] }, LookPath: tc.look, Run: tc.run})
		switch {
		case tc.want == "" && (err != nil || s.ID() != "gnome"):
			t.Errorf("%s: Detect = %v, %v", tc.name, s, err)
		case tc.want != "" && (err == nil || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: Detect error %v, want ErrUnavailable saying %q", tc.name, err, tc.want)
		}
	}
}

// TestGNOMEUnderAPrivateSession changes and restores GNOME's proxy setting
// with the real gsettings, in a private D-Bus session whose dconf database
// is a temporary file: with dconf-cli, and without it.
func TestGNOMEUnderAPrivateSession(t *testing.T) {
	for _, withDconf := range []bool{true, false} {
		s := gnometest.Start(t)
		// Settings as GNOME Settings leaves them after switching a
		// corporate proxy off, plus an ignored host that would bypass
		// the sign-in.
		for _, kv := range [][]string{
			{"org.gnome.system.proxy", "mode", "none"},
			{"org.gnome.system.proxy.http", "host", "proxy.corp"},
			{"org.gnome.system.proxy.http", "port", "3128"},
			{"org.gnome.system.proxy", "ignore-hosts", "['localhost', '127.0.0.0/8', '::1', '*.microsoftonline.com', \"it's.corp\"]"},
		} {
			s.Run(t, append([]string{"gsettings", "set"}, kv...)...)
		}
		before, beforeValues, beforeDB := s.Proxy(t), s.Values(t), s.Database(t)

		run := func(env []string, args ...string) ([]byte, error) {
			return Exec(append(append([]string(nil), s.Env...), env...), args...)
		}
		getenv := func(k string) string {
			for _, kv := range s.Env {
				if name, v, _ := strings.Cut(kv, "="); name == k {
					return v
				}
			}
			return ""
		}
		settings, err := Detect(Env{GOOS: "linux", Getenv: getenv, LookPath: exec.LookPath, Run: run})
		if err != nil {
			t.Fatal(err)
		}
		g := settings.(GNOME)
		if !withDconf {
			g.Dconf = ""
		}
		plan, err := Plan(g, gnomeTarget(t))
		if err != nil {
			t.Fatal(err)
		}
		applied, err := Apply(g, plan)
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]string{
			"org.gnome.system.proxy mode":         "'manual'",
			"org.gnome.system.proxy.http host":    "'127.0.0.1'",
			"org.gnome.system.proxy.https port":   "18080",
			"org.gnome.system.proxy ignore-hosts": `['localhost', '127.0.0.0/8', '::1', "it's.corp"]`,
		} {
			schema, name := splitGNOMEKey(key)
			if got := strings.TrimSpace(s.Run(t, "gsettings", "get", schema, name)); got != want {
				t.Errorf("dconf %v: while applied, %s = %s, want %s", withDconf, key, got, want)
			}
		}
		res, err := Restore(g, applied)
		if err != nil || len(res.Kept) > 0 {
			t.Fatalf("Restore: %+v, %v", res, err)
		}
		if !withDconf {
			// Without dconf-cli, mode 'none' (GNOME Settings' own
			// value, equal to the default) cannot be told from the
			// default: it ends reset, which reads and acts the same.
			if after := s.Values(t); after != beforeValues {
				t.Errorf("without dconf: values after restore\n%s\nwant\n%s", after, beforeValues)
			}
			continue
		}
		if after := s.Proxy(t); after != before {
			t.Errorf("settings after restore\n%s\nwant\n%s", after, before)
		}
		if !bytes.Equal(s.Database(t), beforeDB) {
			t.Errorf("the dconf database is not byte for byte as before")
		}
	}
}
