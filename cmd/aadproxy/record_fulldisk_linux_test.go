package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aadproxy/aadproxy/certs"
)

// inTmpfsNamespaceEnv marks the test binary re-run inside a private mount
// namespace, where it may mount a small tmpfs that nobody else sees.
const inTmpfsNamespaceEnv = "AADPROXY_TEST_IN_TMPFS_NS"

// TestRecordingSurvivesAFullDisk records through the real binary onto a
// 1 MiB tmpfs, fills it, and frees it again: while the disk is full the
// proxy keeps serving and says the recording fails, the file stays a valid
// HAR of what was written, recording resumes when space returns, and at
// exit the user reads how many flows were recorded and how many were lost.
// The tmpfs lives in a mount namespace of its own (unshare -m), so nothing
// outside the test sees it, even if the test dies.
func TestRecordingSurvivesAFullDisk(t *testing.T) {
	if os.Getenv(inTmpfsNamespaceEnv) == "1" {
		recordOntoAFullDisk(t)
		return
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		requireInCI(t, "unshare is not installed (Debian: util-linux)")
	}
	args := []string{"-m", "--propagation", "private"}
	if os.Geteuid() != 0 {
		args = append([]string{"-r"}, args...)
	}
	if out, err := exec.Command("unshare", append(args, "true")...).CombinedOutput(); err != nil {
		requireInCI(t, fmt.Sprintf("cannot make a private mount namespace (unshare %s): %v %s", strings.Join(args, " "), err, out))
	}
	cmd := exec.Command("unshare", append(args, os.Args[0], "-test.run=^TestRecordingSurvivesAFullDisk$", "-test.v", "-test.count=1")...)
	cmd.Env = append(os.Environ(), inTmpfsNamespaceEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("inside the namespace:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRecordingSurvivesAFullDisk") {
		t.Fatalf("the test inside the namespace failed: %v", err)
	}
}

func recordOntoAFullDisk(t *testing.T) {
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })

	sts, stsCA := stsFixture(t)
	home := t.TempDir()
	rec := filepath.Join(disk, "signin.har")
	b := startBinary(t, "--home", home, "--record", rec,
		"--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: b.addr}),
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
	}}
	// Each entry is over 8 KiB (its URL), more than the slack of the last
	// page the file has on the tmpfs, so a write on a full disk must fail.
	pad := strings.Repeat("p", 8<<10)
	sent := 0
	fetch := func(n int) {
		t.Helper()
		for range n {
			resp, err := client.Get(fmt.Sprintf("https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=https%%3A%%2F%%2Flogin.microsoftonline.com%%2Fcommon%%2Foauth2%%2Fv2.0%%2Fauthorize&i=%d&pad=%s", sent, pad))
			if err != nil {
				t.Fatalf("request %d through the proxy: %v", sent, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("request %d: status %d", sent, resp.StatusCode)
			}
			sent++
		}
		b.waitLines(t, sent, isType("flow"))
	}
	notice := func(text string) func(map[string]any) bool {
		return func(m map[string]any) bool {
			msg, _ := m["message"].(string)
			return m["type"] == "notice" && strings.Contains(msg, text)
		}
	}

	fetch(3)
	if got := readRecording(t, rec); len(got) != 3 {
		t.Fatalf("the recording holds %d flows, want 3", len(got))
	}

	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler)
	fetch(4)
	b.waitLines(t, 1, notice("recording failed"))
	// The file is still a complete HAR of the flows before the disk filled.
	if got := readRecording(t, rec); len(got) != 3 {
		t.Errorf("while the disk is full the recording holds %d flows, want the 3 written before", len(got))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	fetch(2)
	b.waitLines(t, 1, notice("recording works again"))

	b.cmd.Process.Signal(syscall.SIGTERM)
	err = <-b.exited
	b.mu.Lock()
	stderr := b.stderr.String()
	b.mu.Unlock()
	// A recording that lost flows is a failed run: exit 1, said once.
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFindings || !strings.HasSuffix(stderr, "aadproxy start: the recording is incomplete\n") {
		t.Errorf("aadproxy stopped with %v, want exit 1 ending \"the recording is incomplete\":\n%s", err, stderr)
	}
	if want := fmt.Sprintf("recorded 5 of %d flows to %s", sent, rec); !strings.Contains(stderr, want) {
		t.Errorf("stderr at exit lacks %q:\n%s", want, stderr)
	}
	if !strings.Contains(stderr, "4 flows could not be recorded") {
		t.Errorf("stderr at exit does not count the 4 lost flows:\n%s", stderr)
	}
	got := readRecording(t, rec)
	want := []int{0, 1, 2, 7, 8}
	if len(got) != len(want) {
		t.Fatalf("the recording holds %d flows, want %d (%v)", len(got), len(want), want)
	}
	for i, f := range got {
		if !strings.Contains(f.Request.URL, fmt.Sprintf("&i=%d&", want[i])) {
			t.Errorf("recording entry %d is %.120s, want request %d", i, f.Request.URL, want[i])
		}
	}
	var out, errOut strings.Builder
	if code := run([]string{"analyze", rec}, &out, &errOut); code == exitBadInput {
		t.Errorf("analyze calls the recording damaged: %s", errOut.String())
	}
}

// fillDisk writes path until the filesystem has no room left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			break
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err == nil && st.Bavail != 0 {
		t.Fatalf("the disk still has %d free blocks after filling it", st.Bavail)
	}
}
