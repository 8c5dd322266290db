package runfile

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

func TestWriteIsPrivateAndFindReadsItBack(t *testing.T) {
	home := t.TempDir()
	info := Info{PID: os.Getpid(), Proxy: "127.0.0.1:8080", UI: "http://127.0.0.1:8081/", Token: "secret", Started: time.Now().UTC().Truncate(time.Second), Home: home}
	path, err := Write(home, info)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("run file mode %v, want 0600", st.Mode().Perm())
		}
		dst, _ := os.Stat(Dir(home))
		if dst.Mode().Perm() != 0o700 {
			t.Errorf("run folder mode %v, want 0700", dst.Mode().Perm())
		}
	}
	got, err := Find(home, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got != info {
		t.Errorf("Find = %+v, want %+v", got, info)
	}
	if got, err := Find(home, os.Getpid()); err != nil || got.Token != "secret" {
		t.Errorf("Find(pid) = %+v, %v", got, err)
	}
	if err := Remove(home, info.PID); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(home, 0); !errors.Is(err, ErrNone) {
		t.Errorf("after Remove: %v, want ErrNone", err)
	}
	if err := Remove(home, info.PID); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestFilesOfDeadProcessesAreIgnoredAndNewestWins(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses a Unix command to get a dead pid")
	}
	home := t.TempDir()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` command:", err)
	}
	dead := cmd.Process.Pid
	now := time.Now().UTC()
	if _, err := Write(home, Info{PID: dead, Proxy: "dead", Started: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	parent := os.Getppid()
	if _, err := Write(home, Info{PID: parent, Proxy: "older", Started: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(home, Info{PID: os.Getpid(), Proxy: "newer", Started: now}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(Dir(home)+"/junk.json", []byte("{"), 0o600)
	os.WriteFile(Dir(home)+"/77.json", []byte("not json"), 0o600)
	live, err := Live(home)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 2 || live[0].Proxy != "newer" || live[1].Proxy != "older" {
		t.Fatalf("Live = %+v, want newer then older (dead pid %d ignored)", live, dead)
	}
	if _, err := Find(home, dead); err == nil {
		t.Errorf("Find of a dead pid succeeded")
	}
	if got, err := Find(home, parent); err != nil || got.Proxy != "older" {
		t.Errorf("Find(parent) = %+v, %v", got, err)
	}
}
