// Package hartest holds test helpers for the packages that write HAR files
// (trace, sanitize): the HAR 1.2 schema check of tools/harvalidate (the npm
// package har-validator under node) and the other names of an input file
// that a writer must refuse to overwrite. It must not be imported by
// non-test code, and it never installs anything: where node or the
// node_modules are missing it skips the test loudly, or fails it in CI.
package hartest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Validator runs tools/harvalidate/validate.js with node.
type Validator struct {
	node, script string
}

// NewValidator finds node and tools/harvalidate's node_modules. Without
// them it skips the test with a message that says so loudly, except when
// CI=true, where it fails it: there the check must run. Call it before the
// work whose output it checks, so a test without the validator stops early.
func NewValidator(t testing.TB) *Validator {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "tools", "harvalidate")
	missing := func(what string) {
		t.Helper()
		msg := "HAR SCHEMA VALIDATION DID NOT RUN: " + what +
			"; install with: (cd tools/harvalidate && npm ci)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("!!! " + msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "har-validator", "package.json")); err != nil {
		missing("har-validator is not installed in " + dir)
	}
	return &Validator{node: node, script: filepath.Join(dir, "validate.js")}
}

// Validate checks the HAR file at path against the schema. The error of a
// rejected file carries the validator's output, which names the offending
// fields.
func (v *Validator) Validate(path string) error {
	out, err := exec.Command(v.node, v.script, path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// InputAliases returns names that all lead to the file in, for tests that a
// writer refuses to overwrite its input: in itself, a symbolic link and a
// hard link to it beside it (link.har and hard.har, which the test's folder
// then holds too) and in joined from its folder and ".".
func InputAliases(t testing.TB, in string) []string {
	t.Helper()
	dir := filepath.Dir(in)
	link := filepath.Join(dir, "link.har")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard.har")
	if err := os.Link(in, hard); err != nil {
		t.Fatal(err)
	}
	return []string{in, link, hard, filepath.Join(dir, ".", filepath.Base(in))}
}

// moduleRoot returns the folder of go.mod above the working directory, which
// go test sets to the package under test.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the module root: no go.mod above the working directory")
		}
		dir = parent
	}
}
