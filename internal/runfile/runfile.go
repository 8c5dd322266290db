// Package runfile is how other aadproxy commands find a running proxy:
// `aadproxy start` writes <home>/run/<pid>.json (mode 0600, in a 0700
// folder) with the proxy's address, the inspector's URL and its API token,
// and removes it on a clean exit. Readers ignore files whose process is
// gone, so a crash leaves nothing that misleads them.
package runfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Info is one run file's content.
type Info struct {
	PID int `json:"pid"`
	// Proxy is the proxy's listening address, host:port.
	Proxy string `json:"proxy"`
	// UI is the inspector's base URL ("http://127.0.0.1:8081/"), "" when
	// started with --no-ui.
	UI string `json:"ui,omitempty"`
	// Token authenticates API calls: Authorization: Bearer <Token>.
	Token string `json:"token,omitempty"`
	// ProxyAuth says whether the proxy asks its clients for credentials.
	ProxyAuth bool      `json:"proxyAuth"`
	Started   time.Time `json:"started"`
	Recording string    `json:"recording,omitempty"`
	Home      string    `json:"home"`
}

// Dir is where run files live under an aadproxy home.
func Dir(home string) string { return filepath.Join(home, "run") }

// Path is the run file of pid.
func Path(home string, pid int) string {
	return filepath.Join(Dir(home), strconv.Itoa(pid)+".json")
}

// Write stores info as the run file of info.PID, private to the user, and
// returns its path. It writes a temporary file and renames it, so a reader
// never sees half a file.
func Write(home string, info Info) (string, error) {
	dir := Dir(home)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("run file: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", fmt.Errorf("run file: %w", err)
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".run-*.tmp")
	if err != nil {
		return "", fmt.Errorf("run file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("run file: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("run file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("run file: %w", err)
	}
	path := Path(home, info.PID)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("run file: %w", err)
	}
	return path, nil
}

// Remove deletes the run file of pid; a missing file is not an error.
func Remove(home string, pid int) error {
	err := os.Remove(Path(home, pid))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// ErrNone means no running aadproxy was found.
var ErrNone = errors.New("no running aadproxy found (start one with `aadproxy`)")

// Live returns the run files whose process is still running, newest first.
// Files it cannot read or parse are skipped.
func Live(home string) ([]Info, error) {
	entries, err := os.ReadDir(Dir(home))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || e.IsDir() {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSuffix(name, ".json"))
		if err != nil || pid <= 0 {
			continue
		}
		info, err := read(filepath.Join(Dir(home), name))
		if err != nil || info.PID != pid || !alive(pid) {
			continue
		}
		out = append(out, info)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// Find returns the run file of pid, or with pid 0 the newest live one.
func Find(home string, pid int) (Info, error) {
	if pid != 0 {
		info, err := read(Path(home, pid))
		if errors.Is(err, os.ErrNotExist) {
			return Info{}, fmt.Errorf("no aadproxy with pid %d (no %s)", pid, Path(home, pid))
		}
		if err != nil {
			return Info{}, err
		}
		if !alive(pid) {
			return Info{}, fmt.Errorf("aadproxy %d is no longer running", pid)
		}
		return info, nil
	}
	live, err := Live(home)
	if err != nil {
		return Info{}, err
	}
	if len(live) == 0 {
		return Info{}, ErrNone
	}
	return live[0], nil
}

func read(path string) (Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Info{}, err
	}
	var info Info
	if err := json.Unmarshal(data, &info); err != nil {
		return Info{}, fmt.Errorf("run file %s: %w", path, err)
	}
	return info, nil
}

// Alive reports whether a process with pid is still running (on platforms
// where that cannot be told, every pid counts as running). Other state that
// names the process that made it (internal/sysproxy's saved settings) uses
// it to tell a crash from a process still at work.
func Alive(pid int) bool { return pid > 0 && alive(pid) }
