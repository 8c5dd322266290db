package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/internal/bombtest"
)

// TestBombSAZCommands runs convert, sanitize, sanitize --check and bundle
// on a SAZ whose two bodies inflate to bombtest.TestSize each, as a user
// would: every command succeeds (or, for --check on the input, names the
// one secret), the outputs are small, the secret never reaches an output,
// no temporary copy is left in TMPDIR (sanitize writes none), and each
// command allocates a bounded amount, whatever the bombs inflate to.
func TestBombSAZCommands(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := t.TempDir()
	saz := filepath.Join(dir, "bomb.saz")
	f, err := os.Create(saz)
	if err != nil {
		t.Fatal(err)
	}
	if err := bombtest.SAZBomb(f, bombtest.TestSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct {
		args     []string
		code     int
		out      string // file written, "" for none
		stdout   string
		maxAlloc uint64 // MiB
	}{
		{[]string{"convert", saz, filepath.Join(dir, "out.har")}, exitOK, "out.har", "", 64},
		{[]string{"convert", saz, filepath.Join(dir, "out.saz")}, exitOK, "out.saz", "", 64},
		{[]string{"sanitize", saz, "-o", filepath.Join(dir, "clean.saz")}, exitOK, "clean.saz", "wrote", 64},
		{[]string{"sanitize", "--check", saz}, exitFindings, "", "refresh_token", 64},
		{[]string{"sanitize", "--check", filepath.Join(dir, "clean.saz")}, exitOK, "", "no secret-looking values", 64},
		{[]string{"sanitize", "--check", filepath.Join(dir, "out.har")}, exitFindings, "", "refresh_token", 128},
		{[]string{"bundle", "--from", saz, "-o", filepath.Join(dir, "bundle.zip")}, exitOK, "bundle.zip", "wrote", 320},
	} {
		name := strings.Join(tc.args[:len(tc.args)-1], " ")
		var stdout, stderr bytes.Buffer
		var code int
		alloc := bombtest.Allocated(func() { code = run(tc.args, &stdout, &stderr) })
		t.Logf("%s: exit %d, allocated %.1f MiB", name, code, float64(alloc)/(1<<20))
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", name, code, stdout.String(), stderr.String(), tc.code, tc.stdout)
		}
		if alloc > tc.maxAlloc<<20 {
			t.Errorf("%s allocated %d MiB, want under %d MiB", name, alloc>>20, tc.maxAlloc)
		}
		if tc.out == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, tc.out))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 40<<20 {
			t.Errorf("%s wrote %d MiB", name, len(data)>>20)
		}
		if strings.HasPrefix(tc.out, "clean") && bytes.Contains(data, []byte(bombtest.Secret)) {
			t.Errorf("%s: the output holds the refresh token", name)
		}
		if tc.out == "bundle.zip" {
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			for _, zf := range zr.File {
				rc, _ := zf.Open()
				b, _ := io.ReadAll(rc)
				rc.Close()
				if bytes.Contains(b, []byte(bombtest.Secret)) {
					t.Errorf("the bundle's %s holds the refresh token", zf.Name)
				}
			}
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("TMPDIR holds %d entries after the commands (%s…): a temporary copy was left", len(left), left[0].Name())
	}
}
