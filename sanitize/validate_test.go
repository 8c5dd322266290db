package sanitize_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// harValidator returns the command that validates a HAR with the npm package
// har-validator (tools/harvalidate), as trace's tests do. Without node or its
// node_modules the test is skipped loudly, except in CI (CI=true), where it
// fails.
func harValidator(t *testing.T) (node, script string) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "tools", "harvalidate"))
	if err != nil {
		t.Fatal(err)
	}
	script = filepath.Join(dir, "validate.js")
	missing := func(what string) {
		msg := "HAR SCHEMA VALIDATION DID NOT RUN: " + what +
			"; install with: (cd tools/harvalidate && npm ci)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("!!! " + msg)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "har-validator", "package.json")); err != nil {
		missing("har-validator is not installed in " + dir)
	}
	return node, script
}
