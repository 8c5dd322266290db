package sysproxy

import (
	"fmt"
	"strings"
)

// InternetSettingsKey is the per-user key, under HKEY_CURRENT_USER, that
// holds WinINET's proxy setting: what Windows' proxy settings page, Edge,
// Chrome and .NET's HttpClient read.
const InternetSettingsKey = `Software\Microsoft\Windows\CurrentVersion\Internet Settings`

// Registry is the values of InternetSettingsKey. Tests use a map; on
// Windows it is the registry.
type Registry interface {
	// Get returns a value: Unset when it does not exist; Type DWORD (Text
	// in decimal), SZ or EXPAND_SZ. A value of another type is an error,
	// so aadproxy never rewrites data it does not understand.
	Get(name string) (Value, error)
	// Set writes v, or deletes the value when v.Unset.
	Set(name string, v Value) error
}

// WinINET is Windows' per-user proxy setting. aadproxy sets ProxyServer
// for http and https, switches ProxyEnable on, keeps "<local>" and the
// user's own entries in ProxyOverride (less those that would bypass a host
// it decrypts) and removes AutoConfigURL (a PAC script would win over
// ProxyServer) while it runs; then it tells running applications the
// settings changed, as the settings page does. No admin rights needed.
type WinINET struct {
	Reg Registry
	// Refresh sends the change notification browsers listen for:
	// InternetSetOptionW with INTERNET_OPTION_SETTINGS_CHANGED (39), then
	// INTERNET_OPTION_REFRESH (37).
	Refresh func() error
}

// winKeys are the values aadproxy changes, in the order it writes them:
// ProxyEnable, which switches the proxy on, comes last.
var winKeys = []string{"AutoConfigURL", "ProxyOverride", "ProxyServer", "ProxyEnable"}

func (w WinINET) ID() string { return "wininet" }
func (w WinINET) Name() string {
	return `Windows proxy setting (WinINET, HKCU\` + InternetSettingsKey + `)`
}

func (w WinINET) Keys() ([]string, error) { return append([]string(nil), winKeys...), nil }

func (w WinINET) Read(key string) (Value, error) {
	v, err := w.Reg.Get(key)
	if err != nil {
		return Value{}, fmt.Errorf(`read HKCU\%s\%s: %w`, InternetSettingsKey, key, err)
	}
	return v, nil
}

func (w WinINET) Want(key string, before Value, t Target) Value {
	switch key {
	case "AutoConfigURL":
		return Value{Unset: true}
	case "ProxyServer":
		hp := t.HostPort()
		return Value{Type: "SZ", Text: "http=" + hp + ";https=" + hp}
	case "ProxyEnable":
		return Value{Type: "DWORD", Text: "1"}
	case "ProxyOverride":
		var keep []string
		local := false
		for _, e := range strings.Split(before.Text, ";") {
			e = strings.TrimSpace(e)
			switch {
			case e == "":
			case strings.EqualFold(e, "<local>"):
				local = true
				keep = append(keep, e)
			case !t.bypasses(e):
				keep = append(keep, e)
			}
		}
		if !local {
			keep = append(keep, "<local>")
		}
		typ := before.Type
		if typ == "" {
			typ = "SZ"
		}
		return Value{Type: typ, Text: strings.Join(keep, ";")}
	}
	return before
}

func (w WinINET) Write(key string, v Value) error {
	if err := w.Reg.Set(key, v); err != nil {
		return fmt.Errorf(`write HKCU\%s\%s: %w`, InternetSettingsKey, key, err)
	}
	return nil
}

func (w WinINET) Notify() error {
	if w.Refresh == nil {
		return nil
	}
	return w.Refresh()
}
