//go:build linux

// Command bombbench measures what compression bombs cost aadproxy, live
// and offline, with the real binary:
//
//   - live: an HTTPS origin on loopback answers /bomb/ENC with a body of
//     -size zero bytes under Content-Encoding ENC (gzip, deflate, br, zstd,
//     nested); aadproxy start (recording, inspecting) proxies -clients
//     concurrent downloads of them, each client checking it received the
//     origin's compressed bytes untouched. Reported: the proxy's RSS when
//     idle (after one small request) and its peak RSS (VmHWM) once every
//     flow is recorded, and the recording's notes on the cut bodies.
//   - offline: a SAZ whose two bodies inflate to -size each goes through
//     aadproxy convert (to HAR and to SAZ), sanitize and sanitize --check;
//     reported: each command's wall time and peak RSS (getrusage).
//
// It prints numbers; quote them as ratios against another build measured
// the same way (-bin names an aadproxy binary; by default ./cmd/aadproxy is
// built). Usage:
//
//	go run ./internal/bombbench [-bin PATH] [-size BYTES] [-clients N] [-offline=false]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/bombtest"
)

func main() {
	bin := flag.String("bin", "", "aadproxy binary to measure (default: build ./cmd/aadproxy)")
	size := flag.Int64("size", bombtest.GiB, "bytes each bomb inflates to")
	clients := flag.Int("clients", 8, "concurrent bomb downloads")
	encs := flag.String("encodings", "gzip,br,zstd,deflate,deflate+gzip", "bombs to cycle through (+ separates a nested chain)")
	live := flag.Bool("live", true, "measure the proxy")
	offline := flag.Bool("offline", true, "measure convert and sanitize on a SAZ bomb")
	flag.Parse()
	if err := run(*bin, *size, *clients, strings.Split(*encs, ","), *live, *offline); err != nil {
		fmt.Fprintln(os.Stderr, "bombbench:", err)
		os.Exit(1)
	}
}

func run(bin string, size int64, clients int, encs []string, live, offline bool) error {
	dir, err := os.MkdirTemp("", "bombbench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "aadproxy")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/aadproxy")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	if live {
		if err := measureLive(bin, dir, size, clients, encs); err != nil {
			return err
		}
	}
	if offline {
		return measureOffline(bin, dir, size)
	}
	return nil
}

func measureLive(bin, dir string, size int64, clients int, encs []string) error {
	bombs := map[string][]byte{}
	for _, e := range encs {
		b, err := bombtest.Body(strings.ReplaceAll(e, "+", ", "), size)
		if err != nil {
			return err
		}
		bombs[e] = b
	}
	ca, err := certs.New(certs.Options{CommonName: "bombbench origin CA"})
	if err != nil {
		return err
	}
	caFile := filepath.Join(dir, "origin-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert().Raw}), 0o600); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) })
	mux.HandleFunc("/bomb/", func(w http.ResponseWriter, r *http.Request) {
		e := strings.TrimPrefix(r.URL.Path, "/bomb/")
		b, ok := bombs[e]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", strings.ReplaceAll(e, "+", ", "))
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})
	srv := &http.Server{Handler: mux, TLSConfig: certs.NewIssuer(ca, certs.IssuerOptions{}).ServerConfig("127.0.0.1")}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	if err != nil {
		return err
	}
	go srv.Serve(ln)
	defer srv.Close()
	origin := "https://" + ln.Addr().String()

	record := filepath.Join(dir, "live.har")
	cmd := exec.Command(bin, "start", "--listen", "127.0.0.1:0", "--offline", "--quiet", "--intercept-all",
		"--record", record, "--home", filepath.Join(dir, "home"), "--upstream-ca", caFile)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	addr, err := listenAddr(stderr)
	if err != nil {
		return err
	}
	proxyCA, err := os.ReadFile(filepath.Join(dir, "home", certs.CertFile))
	if err != nil {
		return fmt.Errorf("the proxy's CA: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(proxyCA)
	pu, _ := url.Parse("http://" + addr)
	client := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyURL(pu),
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		DisableCompression:  true,
		MaxIdleConnsPerHost: clients,
	}}
	if err := fetch(client, origin+"/small", nil); err != nil {
		return fmt.Errorf("small request: %w", err)
	}
	time.Sleep(time.Second)
	idle, _ := procStatus(cmd.Process.Pid, "VmRSS")
	idleHWM, _ := procStatus(cmd.Process.Pid, "VmHWM")

	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for i := range clients {
		e := encs[i%len(encs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fetch(client, origin+"/bomb/"+e, bombs[e])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	relayed := time.Since(start)
	// Inspection and recording run after the hand-over: wait until the
	// proxy's CPU time stops moving.
	waitIdle(cmd.Process.Pid)
	hwm, _ := procStatus(cmd.Process.Pid, "VmHWM")
	rss, _ := procStatus(cmd.Process.Pid, "VmRSS")
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	har, _ := os.ReadFile(record)
	cuts := regexp.MustCompile(`decoded body cut at \d+ bytes[^"]*`).FindAll(har, -1)
	fmt.Printf("live: %d bombs of %d MiB (%s), relayed byte-identical in %v\n", clients, size>>20, strings.Join(encs, " "), relayed.Round(time.Millisecond))
	fmt.Printf("live: proxy RSS idle %d MiB (peak so far %d MiB); after the bombs RSS %d MiB, peak %d MiB (%.2f× idle)\n",
		idle>>10, idleHWM>>10, rss>>10, hwm>>10, float64(hwm)/float64(idle))
	fmt.Printf("live: recording %d KiB, %d entries noting a cut decoded body\n", len(har)>>10, len(cuts))
	if len(cuts) > 0 {
		fmt.Printf("live: e.g. %q\n", cuts[0])
	}
	return nil
}

func fetch(c *http.Client, u string, want []byte) error {
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	if want != nil {
		if sum := sha256.Sum256(want); !bytes.Equal(h.Sum(nil), sum[:]) {
			return fmt.Errorf("%s: received %d bytes that differ from the origin's %d", u, n, len(want))
		}
	}
	return nil
}

var listenRE = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

func listenAddr(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, r)
			return m[1], nil
		}
	}
	return "", errors.New("aadproxy did not say where it listens")
}

// procStatus reads a kB field of /proc/PID/status.
func procStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s", field)
}

func cpuTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func waitIdle(pid int) {
	last := cpuTicks(pid)
	for range 120 {
		time.Sleep(500 * time.Millisecond)
		now := cpuTicks(pid)
		if now-last <= 1 {
			return
		}
		last = now
	}
}

func measureOffline(bin, dir string, size int64) error {
	saz := filepath.Join(dir, "bomb.saz")
	f, err := os.Create(saz)
	if err != nil {
		return err
	}
	if err := bombtest.SAZBomb(f, size); err != nil {
		return err
	}
	f.Close()
	st, _ := os.Stat(saz)
	fmt.Printf("offline: SAZ of %d KiB, two bodies of %d MiB each\n", st.Size()>>10, size>>20)
	for _, args := range [][]string{
		{"convert", saz, filepath.Join(dir, "out.har")},
		{"convert", saz, filepath.Join(dir, "out.saz")},
		{"sanitize", saz, "-o", filepath.Join(dir, "clean.saz")},
		{"sanitize", "--check", saz},
		{"sanitize", "--check", filepath.Join(dir, "clean.saz")},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		cancel()
		took := time.Since(start)
		var maxrss int64
		if cmd.ProcessState != nil {
			maxrss = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
		}
		outSize := ""
		if a := args[len(args)-1]; args[0] != "sanitize" || args[1] != "--check" {
			if st, err := os.Stat(a); err == nil {
				outSize = fmt.Sprintf(", output %d KiB", st.Size()>>10)
			}
		}
		status := "ok"
		if err != nil {
			status = fmt.Sprintf("%v: %s", err, lastLine(out.String()))
		}
		fmt.Printf("offline: %-40s %8v  peak RSS %4d MiB%s  [%s]\n", strings.Join(args[:len(args)-1], " ")+" "+filepath.Base(args[len(args)-1]),
			took.Round(10*time.Millisecond), maxrss>>10, outSize, status)
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
