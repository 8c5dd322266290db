package hartest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aadproxy/aadproxy/internal/hartest"
)

const validHAR = `{"log":{"version":"1.2","creator":{"name":"hartest","version":"1"},"entries":[]}}`

func TestValidate(t *testing.T) {
	v := hartest.NewValidator(t)
	tests := []struct {
		name, data string
		ok         bool
	}{
		{"valid", validHAR, true},
		{"no creator", `{"log":{"version":"1.2","entries":[]}}`, false},
		{"not JSON", `{"log":`, false},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name+".har")
		if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(path); (err == nil) != tt.ok {
			t.Errorf("Validate(%s): got %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	if err := v.Validate(filepath.Join(dir, "missing.har")); err == nil {
		t.Error("Validate(missing.har): got nil, want an error")
	}
}

func TestInputAliases(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.har")
	if err := os.WriteFile(in, []byte(validHAR), 0o600); err != nil {
		t.Fatal(err)
	}
	want, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	names := hartest.InputAliases(t, in)
	if len(names) != 4 {
		t.Fatalf("InputAliases(%s): got %d names, want 4", in, len(names))
	}
	for _, name := range names {
		if got, err := os.Stat(name); err != nil || !os.SameFile(got, want) {
			t.Errorf("InputAliases(%s): %s is not the input (%v)", in, name, err)
		}
	}
}
