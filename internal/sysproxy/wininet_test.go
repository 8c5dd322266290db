package sysproxy

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// fakeRegistry is Internet Settings as a map; absent names do not exist.
type fakeRegistry struct {
	vals map[string]Value
	log  []string
}

func (r *fakeRegistry) Get(name string) (Value, error) {
	v, ok := r.vals[name]
	if !ok {
		return Value{Unset: true}, nil
	}
	if v.Type == "BINARY" {
		return Value{}, fmt.Errorf("value of registry type 3, which aadproxy leaves alone")
	}
	return v, nil
}

func (r *fakeRegistry) Set(name string, v Value) error {
	if v.Unset {
		r.log = append(r.log, "delete "+name)
		delete(r.vals, name)
		return nil
	}
	r.log = append(r.log, fmt.Sprintf("set %s %s %s", name, v.Type, v.Text))
	r.vals[name] = v
	return nil
}

func TestWinINETPlanAndRestore(t *testing.T) {
	for _, tc := range []struct {
		name     string
		before   map[string]Value
		set      []string
		restored []string
	}{
		{
			name:   "no proxy before",
			before: map[string]Value{"ProxyEnable": {Type: "DWORD", Text: "0"}},
			set: []string{
				"set ProxyOverride SZ <local>",
				"set ProxyServer SZ http=127.0.0.1:18080;https=127.0.0.1:18080",
				"set ProxyEnable DWORD 1",
			},
			restored: []string{"set ProxyEnable DWORD 0", "delete ProxyServer", "delete ProxyOverride"},
		},
		{
			name: "a corporate proxy and PAC script",
			before: map[string]Value{
				"ProxyEnable":   {Type: "DWORD", Text: "1"},
				"ProxyServer":   {Type: "SZ", Text: "proxy.corp:8080"},
				"ProxyOverride": {Type: "SZ", Text: "*.corp;*.microsoftonline.com;<local>"},
				"AutoConfigURL": {Type: "SZ", Text: "http://wpad.corp/proxy.pac"},
			},
			set: []string{
				"delete AutoConfigURL",
				"set ProxyOverride SZ *.corp;<local>",
				"set ProxyServer SZ http=127.0.0.1:18080;https=127.0.0.1:18080",
			},
			restored: []string{
				"set ProxyServer SZ proxy.corp:8080",
				"set ProxyOverride SZ *.corp;*.microsoftonline.com;<local>",
				"set AutoConfigURL SZ http://wpad.corp/proxy.pac",
			},
		},
	} {
		reg := &fakeRegistry{vals: maps.Clone(tc.before)}
		refreshed := 0
		w := WinINET{Reg: reg, Refresh: func() error { refreshed++; return nil }}
		plan, err := Plan(w, gnomeTarget(t))
		if err != nil {
			t.Fatal(err)
		}
		applied, err := Apply(w, plan)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(reg.log, tc.set) || refreshed != 1 {
			t.Errorf("%s: registry writes\n%s\nwant\n%s\n(refreshed %d times, want 1)", tc.name, strings.Join(reg.log, "\n"), strings.Join(tc.set, "\n"), refreshed)
		}
		reg.log = nil
		if _, err := Restore(w, applied); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(reg.log, tc.restored) || refreshed != 2 {
			t.Errorf("%s: restore writes\n%s\nwant\n%s", tc.name, strings.Join(reg.log, "\n"), strings.Join(tc.restored, "\n"))
		}
		if !reflect.DeepEqual(reg.vals, tc.before) {
			t.Errorf("%s: after restore %v, want %v", tc.name, reg.vals, tc.before)
		}
	}
}

func TestWinINETLeavesValuesOfOtherTypesAlone(t *testing.T) {
	reg := &fakeRegistry{vals: map[string]Value{"ProxyServer": {Type: "BINARY", Text: "?"}}}
	w := WinINET{Reg: reg}
	if _, err := Plan(w, gnomeTarget(t)); err == nil || !strings.Contains(err.Error(), "leaves alone") {
		t.Errorf("Plan over a binary ProxyServer: %v", err)
	}
	if len(reg.log) != 0 {
		t.Errorf("Plan wrote %v", reg.log)
	}
}
