package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// lastRecordingFile names the file in home that holds the path of the most
// recent --record, for `aadproxy bundle --last`.
const lastRecordingFile = "last-recording"

func rememberRecording(home, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := ensurePrivateDir(home); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(home, lastRecordingFile), []byte(abs+"\n"), 0o600)
}

func lastRecording(home string) (string, error) {
	b, err := os.ReadFile(filepath.Join(home, lastRecordingFile))
	if err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("no recording yet: run `aadproxy start --record FILE.har` first, or pass --from FILE")
		}
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
