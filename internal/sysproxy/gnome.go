package sysproxy

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// GNOME is GNOME's proxy setting, org.gnome.system.proxy, which GNOME
// Settings edits and GIO (glib-networking), Chromium and Firefox read on a
// GNOME-family desktop. It is changed with gsettings, so values keep
// GSettings' own types and notation (GVariant text), and a key that had no
// value of its own is reset on restore rather than written, leaving dconf's
// database as it was.
type GNOME struct {
	Gsettings string // the gsettings program
	// Dconf is the dconf program, "" when it is not installed (Debian's
	// dconf-cli). It tells exactly whether a key has a value of its own;
	// without it, a key reading its schema's default is taken to have
	// none (a key explicitly set to the default value then ends reset,
	// which reads and acts the same).
	Dconf string
	Run   Runner
}

// gnomeKeys are the keys aadproxy changes, in the order it writes them:
// the mode that switches the proxy on comes last, so no client sees
// "manual" with the old host.
var gnomeKeys = []string{
	"org.gnome.system.proxy ignore-hosts",
	"org.gnome.system.proxy.http host",
	"org.gnome.system.proxy.http port",
	"org.gnome.system.proxy.https host",
	"org.gnome.system.proxy.https port",
	"org.gnome.system.proxy mode",
}

func (g GNOME) ID() string   { return "gnome" }
func (g GNOME) Name() string { return "GNOME proxy setting (gsettings org.gnome.system.proxy)" }

func (g GNOME) Keys() ([]string, error) { return append([]string(nil), gnomeKeys...), nil }

func splitGNOMEKey(key string) (schema, name string) {
	schema, name, _ = strings.Cut(key, " ")
	return schema, name
}

// dconfPath is where dconf keeps a key of these schemas:
// org.gnome.system.proxy.http port is /system/proxy/http/port.
func dconfPath(schema, name string) string {
	return "/" + strings.ReplaceAll(strings.TrimPrefix(schema, "org.gnome."), ".", "/") + "/" + name
}

func (g GNOME) Read(key string) (Value, error) {
	schema, name := splitGNOMEKey(key)
	out, err := g.Run(nil, g.Gsettings, "get", schema, name)
	if err != nil {
		return Value{}, err
	}
	v := Value{Text: strings.TrimSpace(string(out))}
	if g.Dconf != "" {
		own, err := g.Run(nil, g.Dconf, "read", dconfPath(schema, name))
		if err != nil {
			return Value{}, err
		}
		v.Unset = strings.TrimSpace(string(own)) == ""
		return v, nil
	}
	// The memory backend knows nothing but the schemas' defaults, and
	// writes nowhere.
	def, err := g.Run([]string{"GSETTINGS_BACKEND=memory"}, g.Gsettings, "get", schema, name)
	if err != nil {
		return Value{}, err
	}
	v.Unset = strings.TrimSpace(string(def)) == v.Text
	return v, nil
}

func (g GNOME) Want(key string, before Value, t Target) Value {
	_, name := splitGNOMEKey(key)
	switch name {
	case "mode":
		return Value{Text: "'manual'"}
	case "host":
		return Value{Text: gvariantString(t.Host)}
	case "port":
		return Value{Text: strconv.Itoa(t.Port)}
	case "ignore-hosts":
		hosts, ok := parseGVariantStrings(before.Text)
		if !ok {
			return before
		}
		var keep []string
		for _, h := range hosts {
			if !t.bypasses(h) {
				keep = append(keep, h)
			}
		}
		if len(keep) == len(hosts) {
			return before
		}
		return Value{Text: gvariantStrings(keep)}
	}
	return before
}

func (g GNOME) Write(key string, v Value) error {
	schema, name := splitGNOMEKey(key)
	var err error
	if v.Unset {
		_, err = g.Run(nil, g.Gsettings, "reset", schema, name)
	} else {
		_, err = g.Run(nil, g.Gsettings, "set", schema, name, v.Text)
	}
	return err
}

func (g GNOME) Notify() error { return nil }

// gnomeDesktops are the desktops (XDG_CURRENT_DESKTOP) whose applications
// read org.gnome.system.proxy: the ones Chromium reads it on, and MATE,
// whose network settings write it.
var gnomeDesktops = []string{"GNOME", "Unity", "Cinnamon", "X-Cinnamon", "Pantheon", "Budgie", "Deepin", "UKUI", "MATE"}

// detectGNOME finds gsettings and GNOME's proxy schema, on a GNOME-family
// desktop with a D-Bus session (without one, gsettings cannot save).
func detectGNOME(env Env) (Settings, error) {
	desktop := env.Getenv("XDG_CURRENT_DESKTOP")
	gnome := false
	for _, d := range strings.Split(desktop, ":") {
		for _, g := range gnomeDesktops {
			gnome = gnome || strings.EqualFold(strings.TrimSpace(d), g)
		}
	}
	switch {
	case desktop == "":
		return nil, fmt.Errorf("%w: no desktop session (XDG_CURRENT_DESKTOP is not set); aadproxy changes GNOME's proxy setting on Linux", ErrUnavailable)
	case !gnome:
		return nil, fmt.Errorf("%w: the desktop is %s, and aadproxy changes only GNOME's proxy setting on Linux (GNOME, Ubuntu, Cinnamon, MATE, Budgie…)", ErrUnavailable, desktop)
	}
	gs, err := env.LookPath("gsettings")
	if err != nil {
		return nil, fmt.Errorf("%w: gsettings not found (Debian/Ubuntu: libglib2.0-bin)", ErrUnavailable)
	}
	if env.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if rt := env.Getenv("XDG_RUNTIME_DIR"); rt == "" || !exists(filepath.Join(rt, "bus")) {
			return nil, fmt.Errorf("%w: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set), so gsettings could not save a change", ErrUnavailable)
		}
	}
	if _, err := env.Run(nil, gs, "list-keys", "org.gnome.system.proxy"); err != nil {
		return nil, fmt.Errorf("%w: GNOME's proxy schema org.gnome.system.proxy is not installed (gsettings-desktop-schemas): %v", ErrUnavailable, err)
	}
	for _, key := range gnomeKeys {
		schema, name := splitGNOMEKey(key)
		out, err := env.Run(nil, gs, "writable", schema, name)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if strings.TrimSpace(string(out)) != "true" {
			return nil, fmt.Errorf("%w: %s is locked (an administrator's dconf lock)", ErrUnavailable, key)
		}
	}
	g := GNOME{Gsettings: gs, Run: env.Run}
	g.Dconf, _ = env.LookPath("dconf")
	return g, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// gvariantString writes s as GVariant text the way GLib prints it
// (g_variant_print): single quotes, or double quotes when s holds a single
// quote, with backslash escapes. Printing what gsettings prints lets Apply
// compare what it wrote with what it reads back.
func gvariantString(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == quote || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			if e := strings.IndexRune("\a\b\f\n\r\t\v", r); e >= 0 {
				b.WriteByte('\\')
				b.WriteByte("abfnrtv"[e])
			} else if r < 0x10000 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		}
	}
	b.WriteRune(quote)
	return b.String()
}

// gvariantStrings writes an array of strings as GLib prints it.
func gvariantStrings(list []string) string {
	if len(list) == 0 {
		return "@as []"
	}
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = gvariantString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// parseGVariantStrings reads an array of strings in GVariant text: ['a',
// "b's"], [], @as []. It reports false for anything else.
func parseGVariantStrings(text string) ([]string, bool) {
	s := strings.TrimSpace(text)
	s = strings.TrimSpace(strings.TrimPrefix(s, "@as"))
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, false
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	out := []string{}
	for s != "" {
		str, rest, ok := parseGVariantString(s)
		if !ok {
			return nil, false
		}
		out = append(out, str)
		rest = strings.TrimSpace(rest)
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, false
		}
		s = strings.TrimSpace(rest[1:])
		if s == "" {
			return nil, false
		}
	}
	return out, true
}

// parseGVariantString reads one quoted string at the start of s.
func parseGVariantString(s string) (str, rest string, ok bool) {
	if s == "" || s[0] != '\'' && s[0] != '"' {
		return "", s, false
	}
	quote := s[0]
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		switch {
		case c == quote:
			return b.String(), s[i+1:], true
		case c == '\\' && i+1 < len(s):
			e := s[i+1]
			i += 2
			switch e {
			case 'a', 'b', 'f', 'n', 'r', 't', 'v':
				b.WriteByte("\a\b\f\n\r\t\v"[strings.IndexByte("abfnrtv", e)])
			case 'u', 'U':
				n := 4
				if e == 'U' {
					n = 8
				}
				if i+n > len(s) {
					return "", s, false
				}
				r, err := strconv.ParseUint(s[i:i+n], 16, 32)
				if err != nil || !utf8.ValidRune(rune(r)) {
					return "", s, false
				}
				b.WriteRune(rune(r))
				i += n
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", s, false
}
