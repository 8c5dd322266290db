package browsertest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// artifactDirs remembers each test's directory, so that its screenshots
// land together and the test logs the place once.
var artifactDirs struct {
	sync.Mutex
	m map[testing.TB]string
}

// ArtifactDir returns the directory for t's screenshots, created 0700 on
// first use and logged: $AADPROXY_ARTIFACTS/<test name> when that variable
// is set (CI keeps it), else a new directory under os.TempDir() named after
// the test, which outlives the test so that its screenshots can be looked
// at. A subtest's "/" becomes "_" in the name.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir, err := artifactDir(t)
	if err != nil {
		t.Fatalf("browsertest.ArtifactDir: %v", err)
	}
	return dir
}

func artifactDir(t testing.TB) (string, error) {
	t.Helper()
	artifactDirs.Lock()
	defer artifactDirs.Unlock()
	if dir, ok := artifactDirs.m[t]; ok {
		return dir, nil
	}
	name := safeName(t.Name())
	var dir string
	if root := os.Getenv(ArtifactsEnv); root != "" {
		dir = filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("create artifact directory: %w", err)
		}
	} else {
		// A fresh name, not a fixed one: /tmp is shared, and a fixed path
		// could be someone else's symlink.
		var err error
		if dir, err = os.MkdirTemp("", "aadproxy-"+name+"-"); err != nil {
			return "", fmt.Errorf("create artifact directory: %w", err)
		}
	}
	if artifactDirs.m == nil {
		artifactDirs.m = make(map[testing.TB]string)
	}
	artifactDirs.m[t] = dir
	t.Logf("browsertest: artifacts of %s go to %s", t.Name(), dir)
	return dir, nil
}

// safeName keeps letters, digits, '.', '-' and '_' of s, and turns the rest
// (a subtest's '/', anything a shell or a file system may mind) into '_'.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
	if s == "" || strings.Trim(s, ".") == "" {
		return "_" + s
	}
	return s
}

// Screenshot writes a PNG of the whole page of ctx (beyond the viewport
// when the page is longer) to ArtifactDir(t)/NAME.png, replacing an older
// one of that name, and logs the path, which it returns.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, ActionTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // quality 100 means PNG
	if err != nil {
		fail(t, ctx, "browsertest.Screenshot(%q): %v", name, err)
	}
	dir, err := artifactDir(t)
	if err != nil {
		t.Fatalf("browsertest.Screenshot(%q): %v", name, err)
	}
	path := filepath.Join(dir, safeName(name)+".png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Fatalf("browsertest.Screenshot(%q): %v", name, err)
	}
	t.Logf("browsertest: screenshot %s", path)
	return path
}

// writeArtifact writes data to a new file NAME.png, NAME-2.png… in t's
// artifact directory and returns its path; failure screenshots use it, so
// that a second failure does not overwrite the first.
func writeArtifact(t testing.TB, name string, data []byte) (string, error) {
	t.Helper()
	dir, err := artifactDir(t)
	if err != nil {
		return "", err
	}
	for i := 1; i < 100; i++ {
		file := name + ".png"
		if i > 1 {
			file = name + "-" + strconv.Itoa(i) + ".png"
		}
		path := filepath.Join(dir, file)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return path, err
	}
	return "", fmt.Errorf("%s: too many %s screenshots", dir, name)
}
