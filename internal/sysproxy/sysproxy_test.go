package sysproxy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// memSettings is a Settings over a map, with a key that can be made to
// fail.
type memSettings struct {
	keys     []string
	vals     map[string]Value
	failOn   string
	notified int
}

func (m *memSettings) ID() string              { return "mem" }
func (m *memSettings) Name() string            { return "memory" }
func (m *memSettings) Keys() ([]string, error) { return m.keys, nil }
func (m *memSettings) Read(k string) (Value, error) {
	return m.vals[k], nil
}
func (m *memSettings) Want(k string, before Value, t Target) Value {
	if k == "same" {
		return before
	}
	return Value{Text: k + "=" + t.HostPort()}
}
func (m *memSettings) Write(k string, v Value) error {
	if k == m.failOn {
		return errors.New("refused")
	}
	m.vals[k] = v
	return nil
}
func (m *memSettings) Notify() error { m.notified++; return nil }

func TestPlanApplyRestoreLeavesWhatOthersChanged(t *testing.T) {
	m := &memSettings{keys: []string{"a", "same", "b", "c"}, vals: map[string]Value{
		"a": {Text: "1"}, "same": {Text: "x"}, "b": {Text: "2", Unset: true},
	}}
	before := map[string]Value{"a": {Text: "1"}, "same": {Text: "x"}, "b": {Text: "2", Unset: true}, "c": {}}
	tg := Target{Host: "127.0.0.1", Port: 8080}
	plan, err := Plan(m, tg)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range plan {
		keys = append(keys, c.Key)
	}
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("Plan changes %v, want %v (a key already as wanted is left out)", keys, want)
	}
	applied, err := Apply(m, plan)
	if err != nil {
		t.Fatal(err)
	}
	if m.vals["a"].Text != "a=127.0.0.1:8080" || m.notified != 1 {
		t.Fatalf("after Apply: %v, notified %d", m.vals, m.notified)
	}
	m.vals["b"] = Value{Text: "the user's"} // changed while aadproxy ran
	res, err := Restore(m, applied)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Restored) != 2 || len(res.Kept) != 1 || res.Kept[0].Key != "b" || res.Kept[0].Now.Text != "the user's" {
		t.Errorf("Restore: %+v, want a and c restored, b kept", res)
	}
	// c restored in reverse order first, a last.
	if res.Restored[0].Key != "c" || res.Restored[1].Key != "a" {
		t.Errorf("Restore order %v, want c then a", res.Restored)
	}
	before["b"] = Value{Text: "the user's"}
	if !reflect.DeepEqual(m.vals, before) {
		t.Errorf("after Restore: %v, want %v", m.vals, before)
	}
}

func TestApplyRollsBackWhenAKeyFails(t *testing.T) {
	m := &memSettings{keys: []string{"a", "b", "c"}, vals: map[string]Value{"a": {Text: "1"}, "b": {Text: "2"}, "c": {Text: "3"}}}
	plan, err := Plan(m, Target{Host: "127.0.0.1", Port: 1})
	if err != nil {
		t.Fatal(err)
	}
	m.failOn = "c"
	if _, err := Apply(m, plan); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Apply with a failing key: %v", err)
	}
	if want := map[string]Value{"a": {Text: "1"}, "b": {Text: "2"}, "c": {Text: "3"}}; !reflect.DeepEqual(m.vals, want) {
		t.Errorf("after a failed Apply: %v, want %v", m.vals, want)
	}
}

func TestTargetFor(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"0.0.0.0:8080", "127.0.0.1:8080"},
		{"[::]:9000", "[::1]:9000"},
		{"[::1]:9000", "[::1]:9000"},
	} {
		got, err := TargetFor(tc.addr, nil)
		if err != nil || got.HostPort() != tc.want {
			t.Errorf("TargetFor(%q): got %v, %v, want %s", tc.addr, got.HostPort(), err, tc.want)
		}
	}
	if _, err := TargetFor("nope", nil); err == nil {
		t.Error("TargetFor accepted an address without a port")
	}
}

func TestStateIsPrivateAndReadsBack(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if st, err := LoadState(home); st != nil || err != nil {
		t.Fatalf("LoadState without a file: %v, %v", st, err)
	}
	st := State{PID: 42, Backend: "gnome", Name: "GNOME", Proxy: "127.0.0.1:8080", Time: time.Now().UTC().Truncate(time.Second),
		Changes: []Change{{Key: "org.gnome.system.proxy mode", Before: Value{Text: "'none'", Unset: true}, After: Value{Text: "'manual'"}}}}
	if err := st.Save(home); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(home, StateFile))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
		}
	}
	got, err := LoadState(home)
	if err != nil || !reflect.DeepEqual(*got, st) {
		t.Errorf("LoadState: got %+v, %v, want %+v", got, err, st)
	}
	if err := RemoveState(home); err != nil {
		t.Fatal(err)
	}
	if err := RemoveState(home); err != nil {
		t.Errorf("RemoveState of a missing file: %v", err)
	}
}

func TestCommandLineQuotes(t *testing.T) {
	got := CommandLine([]string{"networksetup", "-setwebproxy", "USB 10/100/1000 LAN", "127.0.0.1", "8080"})
	if want := "networksetup -setwebproxy 'USB 10/100/1000 LAN' 127.0.0.1 8080"; got != want {
		t.Errorf("CommandLine: got %s, want %s", got, want)
	}
}
