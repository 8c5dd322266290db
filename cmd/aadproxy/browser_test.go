//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/internal/launch"
)

// browserUnderTest finds an installed browser of a kind, or skips (fails
// under CI for Chromium and Firefox, which the test command installs).
func browserUnderTest(t *testing.T, name string) {
	t.Helper()
	if _, err := launch.FindBrowser(name); err != nil {
		requireInCI(t, name+" is not installed: "+err.Error())
	}
}

// TestBrowserOpensTheSignInPageThroughTheProxy: `aadproxy browser` alone,
// with the start flags of a proxy of its own, loads the fake Entra's
// sign-in page in each browser and saves a screenshot.
func TestBrowserOpensTheSignInPageThroughTheProxy(t *testing.T) {
	for _, name := range []string{"chromium", "firefox"} {
		t.Run(name, func(t *testing.T) {
			browserUnderTest(t, name)
			sts, stsCA := stsFixture(t)
			shot := filepath.Join(t.TempDir(), name+".png")
			cmd := exec.Command(os.Args[0], "browser", "--home", t.TempDir(), "--offline", "--json", "--no-ui",
				"--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA,
				"--browser", name, "--headless", "--screenshot", shot, authorizeURL("shot-"+name))
			cmd.Env = append(os.Environ(), runMainEnv+"=1", "NO_COLOR=1", "TMPDIR="+shortTemp(t))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("aadproxy browser: %v\n%s", err, stderrOf(err))
			}
			f, err := os.Open(shot)
			if err != nil {
				t.Fatalf("no screenshot: %v", err)
			}
			defer f.Close()
			if _, err := png.Decode(f); err != nil {
				t.Errorf("screenshot is not a PNG: %v", err)
			}
			found := false
			for _, m := range jsonLines(string(out)) {
				u, _ := m["url"].(string)
				if m["type"] == "flow" && strings.Contains(u, "state=shot-"+name) && m["status"] == 200.0 && m["tag"] == "browser" {
					found = true
				}
			}
			if !found {
				t.Errorf("no tagged authorize flow in:\n%s", out)
			}
		})
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// TestBrowserMakesNoBackgroundNoise: with every host decrypted, a fresh
// profile makes no request to any host but the page's, from start until
// ten seconds after the page loaded; closing aadproxy closes the browser
// and deletes the profile.
func TestBrowserMakesNoBackgroundNoise(t *testing.T) {
	if testing.Short() {
		t.Skip("waits ten seconds per browser")
	}
	for _, name := range []string{"chromium", "firefox"} {
		t.Run(name, func(t *testing.T) {
			browserUnderTest(t, name)
			sts, stsCA := stsFixture(t)
			tmp := shortTemp(t)
			cmd := exec.Command(os.Args[0], "browser", "--home", t.TempDir(), "--offline", "--json", "--no-ui", "--intercept-all",
				"--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA,
				"--browser", name, "--headless", authorizeURL("noise-"+name))
			cmd.Env = append(os.Environ(), runMainEnv+"=1", "NO_COLOR=1", "TMPDIR="+tmp)
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			var mu sync.Mutex
			var hosts []string
			loaded := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(stdout)
				sc.Buffer(make([]byte, 1<<20), 1<<20)
				once := sync.Once{}
				for sc.Scan() {
					var m map[string]any
					if json.Unmarshal(sc.Bytes(), &m) != nil || m["type"] != "flow" {
						continue
					}
					u, _ := url.Parse(m["url"].(string))
					mu.Lock()
					hosts = append(hosts, u.Host)
					mu.Unlock()
					if strings.Contains(u.RawQuery, "state=noise-"+name) {
						once.Do(func() { close(loaded) })
					}
				}
			}()
			select {
			case <-loaded:
			case <-time.After(60 * time.Second):
				t.Fatalf("%s did not load the page", name)
			}
			time.Sleep(10 * time.Second)
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("aadproxy browser did not stop on SIGTERM")
			}
			mu.Lock()
			defer mu.Unlock()
			for _, h := range hosts {
				if h != "login.microsoftonline.com" {
					t.Errorf("%s called %s on its own (all hosts: %v)", name, h, hosts)
				}
			}
			left, _ := filepath.Glob(filepath.Join(tmp, "aadproxy-browser-*"))
			if len(left) > 0 {
				t.Errorf("the profile was left behind: %v", left)
			}
		})
	}
}

// shortTemp is a temporary folder with a short path: Chromium's profile
// lock is a Unix socket, whose path must fit in about 100 bytes.
func shortTemp(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "abt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
