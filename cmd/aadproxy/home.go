package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// homeDir resolves aadproxy's folder for its CA and data: --home, then
// AADPROXY_HOME, then the OS user config dir + /aadproxy.
func homeDir(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	if env := os.Getenv("AADPROXY_HOME"); env != "" {
		return filepath.Abs(env)
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find a home folder (set --home or AADPROXY_HOME): %w", err)
	}
	return filepath.Join(base, "aadproxy"), nil
}

// ensurePrivateDir creates dir 0700 (and its parents as needed).
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return os.Chmod(dir, 0o700)
}
