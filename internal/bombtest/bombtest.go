// Package bombtest builds compression bombs for tests: small bodies that
// inflate to gigabytes of zeros under any HTTP content coding aadproxy
// decodes (gzip, deflate, br, zstd, and chains of them), and SAZ archives
// whose members or bodies do the same. Nothing is committed: every bomb is
// made on the fly (well under a second for 1 GiB) and kept for the rest of
// the test process. It must not be imported by non-test code.
package bombtest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	kflate "github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// GiB is the size tests inflate to.
const GiB = 1 << 30

// Encodings are the content codings a bomb can be built with.
var Encodings = []string{"gzip", "deflate", "br", "zstd"}

// Allocated runs fn and returns how many bytes the process allocated
// meanwhile (runtime.MemStats.TotalAlloc): what fn cost the heap, whether
// or not it was freed again, and not a timing. Other goroutines'
// allocations count too, so call it with nothing else running.
func Allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Zeros is a reader of N zero bytes.
type Zeros struct{ N int64 }

func (z *Zeros) Read(p []byte) (int, error) {
	if z.N <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.N {
		p = p[:z.N]
	}
	clear(p)
	z.N -= int64(len(p))
	return len(p), nil
}

type key struct {
	enc  string
	size int64
}

var (
	mu    sync.Mutex
	cache = map[key][]byte{}
)

// Body returns size zero bytes encoded with encoding, a Content-Encoding
// value: one coding or a comma-separated chain, listed in the order they
// were applied ("deflate, gzip" is gzip of a deflate stream). The result is
// shared between callers and must not be modified.
func Body(encoding string, size int64) ([]byte, error) {
	k := key{encoding, size}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := cache[k]; ok {
		return b, nil
	}
	b, err := build(encoding, size)
	if err != nil {
		return nil, err
	}
	cache[k] = b
	return b, nil
}

func build(encoding string, size int64) ([]byte, error) {
	var out bytes.Buffer
	var w io.Writer = &out
	var closers []io.Closer
	encs := strings.Split(encoding, ",")
	// The last coding listed is the outermost: open writers from the outside
	// in, so the first coding listed is the one the zeros go through first.
	for i := len(encs) - 1; i >= 0; i-- {
		cw, err := writer(strings.TrimSpace(encs[i]), w)
		if err != nil {
			return nil, err
		}
		closers = append(closers, cw)
		w = cw
	}
	if _, err := io.Copy(w, &Zeros{N: size}); err != nil {
		return nil, err
	}
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i].Close(); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

type writeCloser interface {
	io.Writer
	io.Closer
}

func writer(enc string, w io.Writer) (writeCloser, error) {
	switch enc {
	case "gzip":
		// Fast and as small as level 9 for zeros: a deflate stream of
		// zeros is about 1/1000 of them at any level.
		return gzip.NewWriterLevel(w, gzip.BestSpeed)
	case "deflate":
		return zlib.NewWriterLevel(w, kflate.BestSpeed)
	case "br":
		return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: 5, LGWin: 22}), nil
	case "zstd":
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	}
	return nil, fmt.Errorf("bombtest: unknown encoding %q", enc)
}

// SAZSession is one session of a SAZ archive: the request as the client
// sent it, and the response's head (status line and headers, ending with
// the empty line) followed by Body as stored.
type SAZSession struct {
	Request      string
	ResponseHead string
	Body         io.Reader
}

// WriteSAZ writes a Fiddler archive holding sessions, numbered from 1, each
// part deflated as Fiddler does: a body of zeros stored in the clear
// becomes a zip member that inflates a thousandfold.
func WriteSAZ(w io.Writer, sessions []SAZSession) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return kflate.NewWriter(out, kflate.BestSpeed)
	})
	for i, s := range sessions {
		id := fmt.Sprintf("%02d", i+1)
		parts := []struct {
			name string
			r    io.Reader
		}{
			{"raw/" + id + "_c.txt", strings.NewReader(s.Request)},
			{"raw/" + id + "_s.txt", io.MultiReader(strings.NewReader(s.ResponseHead), s.Body)},
			{"raw/" + id + "_m.xml", strings.NewReader(`<?xml version="1.0" encoding="utf-8"?>` + "\r\n" +
				`<Session SID="` + strconv.Itoa(i+1) + `" BitFlags="1"><SessionTimers ClientBeginRequest="2026-12-04T10:00:00.0000000+00:00" ClientDoneResponse="2026-12-04T10:00:01.0000000+00:00"/><SessionFlags/></Session>`)},
		}
		for _, p := range parts {
			pw, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Deflate})
			if err != nil {
				return err
			}
			if _, err := io.Copy(pw, p.r); err != nil {
				return err
			}
		}
	}
	return zw.Close()
}

// Secret is the refresh token SAZBomb's token session answers with; a
// sanitized archive must not hold it.
const Secret = "0.AAAA-bombtest-refresh-token-that-must-go-9f8e7d6c5b4a39281706f5e4d3c2b1a0"

// SAZBomb writes the archive the hardening issue describes: session 1 is a
// gzip response that inflates to size zero bytes, session 2 an identity
// response of size zero bytes (its zip member is the bomb), session 3 an
// ordinary token answer holding Secret, session 4 a gzip JSON answer that
// is small and whole.
func SAZBomb(w io.Writer, size int64) error {
	gz, err := Body("gzip", size)
	if err != nil {
		return err
	}
	get := func(path string) string {
		return "GET https://login.microsoftonline.com" + path + " HTTP/1.1\r\nHost: login.microsoftonline.com\r\n\r\n"
	}
	token := `{"token_type":"Bearer","refresh_token":"` + Secret + `","expires_in":3599}`
	var small bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&small, gzip.BestSpeed)
	io.WriteString(zw, `{"keys":[{"kty":"RSA","kid":"bombtest"}]}`)
	zw.Close()
	return WriteSAZ(w, []SAZSession{
		{get("/bomb/gzip"), fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(gz)), bytes.NewReader(gz)},
		{get("/bomb/zip"), fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", size), &Zeros{N: size}},
		{"POST https://login.microsoftonline.com/common/oauth2/v2.0/token HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 24\r\n\r\ngrant_type=refresh_token",
			fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(token)), strings.NewReader(token)},
		{get("/common/discovery/v2.0/keys"), fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", small.Len()), &small},
	})
}
