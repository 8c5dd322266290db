//go:build windows

package sysproxy

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// openWinINET opens the current user's Internet Settings key.
func openWinINET() (Settings, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, InternetSettingsKey, registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		return nil, fmt.Errorf(`%w: open HKCU\%s: %v`, ErrUnavailable, InternetSettingsKey, err)
	}
	return WinINET{Reg: winRegistry{k}, Refresh: refreshWinINET}, nil
}

// winRegistry is a Registry over an open key. The key stays open for the
// process's life: the settings are restored at exit.
type winRegistry struct{ k registry.Key }

func (r winRegistry) Get(name string) (Value, error) {
	_, typ, err := r.k.GetValue(name, nil)
	if errors.Is(err, registry.ErrNotExist) {
		return Value{Unset: true}, nil
	}
	if err != nil && !errors.Is(err, registry.ErrShortBuffer) {
		return Value{}, err
	}
	switch typ {
	case registry.DWORD:
		n, _, err := r.k.GetIntegerValue(name)
		if err != nil {
			return Value{}, err
		}
		return Value{Type: "DWORD", Text: strconv.FormatUint(n, 10)}, nil
	case registry.SZ, registry.EXPAND_SZ:
		s, _, err := r.k.GetStringValue(name)
		if err != nil {
			return Value{}, err
		}
		t := "SZ"
		if typ == registry.EXPAND_SZ {
			t = "EXPAND_SZ"
		}
		return Value{Type: t, Text: s}, nil
	}
	return Value{}, fmt.Errorf("value of registry type %d, which aadproxy leaves alone", typ)
}

func (r winRegistry) Set(name string, v Value) error {
	switch {
	case v.Unset:
		err := r.k.DeleteValue(name)
		if errors.Is(err, registry.ErrNotExist) {
			return nil
		}
		return err
	case v.Type == "DWORD":
		n, err := strconv.ParseUint(v.Text, 10, 32)
		if err != nil {
			return fmt.Errorf("DWORD %q: %w", v.Text, err)
		}
		return r.k.SetDWordValue(name, uint32(n))
	case v.Type == "EXPAND_SZ":
		return r.k.SetExpandStringValue(name, v.Text)
	case v.Type == "SZ":
		return r.k.SetStringValue(name, v.Text)
	}
	return fmt.Errorf("registry type %q", v.Type)
}

var (
	wininet            = windows.NewLazySystemDLL("wininet.dll")
	internetSetOptionW = wininet.NewProc("InternetSetOptionW")
)

// WinINET's option numbers (wininet.h).
const (
	internetOptionRefresh         = 37
	internetOptionSettingsChanged = 39
)

// refreshWinINET tells WinINET, and through it running browsers, that the
// registry changed: the same two calls Windows' own settings page makes.
func refreshWinINET() error {
	for _, opt := range []uintptr{internetOptionSettingsChanged, internetOptionRefresh} {
		if err := internetSetOptionW.Find(); err != nil {
			return fmt.Errorf("wininet.dll: %w", err)
		}
		ok, _, err := internetSetOptionW.Call(0, opt, 0, 0)
		if ok == 0 {
			return fmt.Errorf("InternetSetOptionW(%d): %w", opt, err)
		}
	}
	return nil
}
