package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/internal/runfile"
	"github.com/aadproxy/aadproxy/ui"
)

// apiGet calls the inspector's API with the token of its link.
func apiGet(t *testing.T, link, path string, v any) int {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+u.Host+path, nil)
	req.Header.Set("Authorization", "Bearer "+u.Query().Get("token"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

func TestStartServesTheInspectorAndKeepsARunFile(t *testing.T) {
	home := t.TempDir()
	b := startBinary(t, "--home", home)
	b.mu.Lock()
	first := b.lines
	b.mu.Unlock()
	lines := b.waitLines(t, 1, isType("ui"))
	link, _ := lines[0]["url"].(string)
	if len(first) > 0 && first[0]["type"] != "ui" {
		t.Errorf("first JSON line %v, want the inspector's", first[0])
	}
	if !strings.HasPrefix(link, "http://127.0.0.1:") || !strings.Contains(link, "/?token=") {
		t.Fatalf("inspector link %q", link)
	}
	var st ui.Status
	if code := apiGet(t, link, "/api/status", &st); code != 200 || st.Mode != "live" || st.Proxy != b.addr {
		t.Errorf("status: %d %+v", code, st)
	}

	// The run file appears once the proxy is up, private, with the token.
	pid := b.cmd.Process.Pid
	info := waitRunFile(t, home, pid)
	u, _ := url.Parse(link)
	if info.Proxy != b.addr || info.Token != u.Query().Get("token") || info.UI != "http://"+u.Host+"/" || info.PID != pid {
		t.Errorf("run file %+v; proxy %s, link %s", info, b.addr, link)
	}
	if runtime.GOOS != "windows" {
		if st, err := os.Stat(runfile.Path(home, pid)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("run file mode: %v %v", st.Mode(), err)
		}
	}
	// A clean exit removes it.
	b.cmd.Process.Signal(os.Interrupt)
	select {
	case <-b.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("aadproxy did not stop on SIGINT")
	}
	if _, err := os.Stat(runfile.Path(home, pid)); !os.IsNotExist(err) {
		t.Errorf("run file left after a clean exit: %v", err)
	}
}

func TestNoUIServesNoInspector(t *testing.T) {
	b := startBinary(t, "--home", t.TempDir(), "--no-ui")
	time.Sleep(300 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.lines {
		if l["type"] == "ui" {
			t.Errorf("--no-ui printed %v", l)
		}
	}
	if strings.Contains(b.stderr.String(), "web inspector") {
		t.Errorf("--no-ui banner mentions the inspector:\n%s", b.stderr.String())
	}
}

func TestABusyDefaultPortFallsBackToAFreeOne(t *testing.T) {
	a := startBinary(t, "--home", t.TempDir())
	b := startBinary(t, "--home", t.TempDir())
	la, _ := a.waitLines(t, 1, isType("ui"))[0]["url"].(string)
	lb, _ := b.waitLines(t, 1, isType("ui"))[0]["url"].(string)
	ua, _ := url.Parse(la)
	ub, _ := url.Parse(lb)
	if ua.Host == ub.Host {
		t.Fatalf("two proxies share the inspector address %s", ua.Host)
	}
	for _, x := range []struct {
		bin  *binary
		host string
	}{{a, ua.Host}, {b, ub.Host}} {
		x.bin.mu.Lock()
		said := strings.Contains(x.bin.stderr.String(), "is busy, using "+x.host)
		x.bin.mu.Unlock()
		if x.host != ui.DefaultAddr && !said {
			t.Errorf("inspector on %s without saying the default was busy", x.host)
		}
	}
}

var inspectorLinkRE = regexp.MustCompile(`web inspector: (http://\S+)`)

func TestUICommandServesATraceOffline(t *testing.T) {
	saz, err := filepath.Abs(filepath.Join("..", "..", "trace", "testdata", "sample.saz"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "ui", "--ui", "127.0.0.1:0", saz)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "NO_COLOR=1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	link := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := inspectorLinkRE.FindStringSubmatch(sc.Text()); m != nil {
				link <- m[1]
			}
		}
	}()
	var l string
	select {
	case l = <-link:
	case <-time.After(30 * time.Second):
		t.Fatal("aadproxy ui printed no link")
	}
	var st ui.Status
	if code := apiGet(t, l, "/api/status", &st); code != 200 || st.Mode != "file" || st.Source != "sample.saz" || st.Flows == 0 {
		t.Fatalf("status of aadproxy ui sample.saz: %d %+v", code, st)
	}
	var list struct {
		Flows []ui.Summary `json:"flows"`
	}
	apiGet(t, l, "/api/flows", &list)
	if len(list.Flows) != st.Flows || list.Flows[0].Host == "" {
		t.Errorf("flows: %d summaries for %d flows, first %+v", len(list.Flows), st.Flows, list.Flows)
	}
	// Nothing to pause in a file.
	u, _ := url.Parse(l)
	req, _ := http.NewRequest("POST", "http://"+u.Host+"/api/pause", nil)
	req.Header.Set("Authorization", "Bearer "+u.Query().Get("token"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("pause of a file: %d, want 409", resp.StatusCode)
	}
}

// waitRunFile waits until the proxy with pid has written its run file.
func waitRunFile(t *testing.T, home string, pid int) runfile.Info {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := runfile.Find(home, pid)
		if err == nil {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("run file: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
