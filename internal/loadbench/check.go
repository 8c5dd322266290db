package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/trace"
)

// maxBody is aadproxy's default --max-body: bodies up to it are recorded
// whole, larger ones cut there with their true size kept.
const maxBody = 10 << 20

// analyzeTimeout bounds `aadproxy analyze` on one scenario's recording; it
// runs the same rules as the live proxy, which take milliseconds per token
// request once the history is full.
const analyzeTimeout = 30 * time.Minute

// recording summarises an aadproxy recording read back with the trace
// package, one entry at a time.
type recording struct {
	entries  int
	perTag   map[string]int64
	bad      int    // entries without their whole response body
	firstBad string // the first of them, for the message
	damage   error  // a damaged tail (expected after kill -9 only)
}

// readRecording reads the HAR at path; every entry's response body should
// be bodyLen bytes, captured up to maxBody.
func readRecording(path string, bodyLen int64) (*recording, error) {
	rec := &recording{perTag: map[string]int64{}}
	n, _, err := trace.Open(path, func(i int, f *flow.Flow) error {
		rec.perTag[tagOf(f)]++
		if p := bodyProblem(f, bodyLen); p != "" {
			if rec.bad == 0 {
				rec.firstBad = fmt.Sprintf("entry %d (%s): %s", i, f.Request.URL, p)
			}
			rec.bad++
		}
		return nil
	})
	rec.entries = n
	if err != nil && trace.Damaged(err) {
		rec.damage, err = err, nil
	}
	if err != nil {
		return rec, fmt.Errorf("read recording: %w", err)
	}
	return rec, nil
}

// tagOf returns the lb query parameter the benchmark puts on every request.
func tagOf(f *flow.Flow) string {
	if f.Request == nil {
		return ""
	}
	u, err := url.Parse(f.Request.URL)
	if err != nil {
		return ""
	}
	return u.Query().Get("lb")
}

// bodyProblem says how an entry's response differs from the whole body the
// origin sent, or returns "".
func bodyProblem(f *flow.Flow, want int64) string {
	if f.Response == nil {
		return fmt.Sprintf("no response (error %q)", f.Error)
	}
	if f.Error != "" {
		return fmt.Sprintf("flow error %q", f.Error)
	}
	b := f.Response.Body
	if b.Size != want {
		return fmt.Sprintf("body size %d, want %d", b.Size, want)
	}
	if got, capped := int64(len(b.Raw)), min(want, maxBody); got != capped {
		return fmt.Sprintf("%d body bytes captured, want %d", got, capped)
	}
	if b.Truncated != (want > maxBody) {
		return fmt.Sprintf("truncated mark %v for a %d-byte body", b.Truncated, want)
	}
	return ""
}

// checkAnswered compares the recording with what the clients received:
// every answered request must be an entry, whole.
func (rec *recording) checkAnswered(answered map[string]int64) (string, error) {
	var total, missing, extra int64
	for tag, n := range answered {
		total += n
		got := rec.perTag[tag]
		if got < n {
			missing += n - got
		} else {
			extra += got - n
		}
	}
	for tag, n := range rec.perTag {
		if _, ok := answered[tag]; !ok {
			extra += n
		}
	}
	summary := fmt.Sprintf("recording: %d entries for %d answered requests", rec.entries, total)
	if extra > 0 {
		// A flow the client never saw answered, e.g. one a retry replaced.
		summary += fmt.Sprintf(" (%d beyond them)", extra)
	}
	var errs []error
	if missing > 0 {
		errs = append(errs, fmt.Errorf("the recording misses %d of %d answered requests", missing, total))
	}
	if rec.bad > 0 {
		errs = append(errs, fmt.Errorf("%d entries lack their whole response body; first %s", rec.bad, rec.firstBad))
	}
	if rec.damage != nil {
		errs = append(errs, fmt.Errorf("the recording is damaged: %w", rec.damage))
	}
	if len(errs) == 0 {
		summary += ", every body whole"
	}
	return summary, errors.Join(errs...)
}

// analyzeDoc is the part of `aadproxy analyze --json` the benchmark reads.
type analyzeDoc struct {
	Flows    int `json:"flows"`
	Findings []struct {
		Rule string `json:"rule"`
		Code int    `json:"code"`
		Flow int    `json:"flow"`
	} `json:"findings"`
	Error string `json:"error"`
}

// checkFindings runs `aadproxy analyze --json` on the recording and wants
// exactly one aadsts-error finding for AADSTS70008 on each of its entries.
func checkFindings(ctx context.Context, bin, path string, entries int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, analyzeTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "analyze", "--json", path)
	// AADPROXY_CPUPROFILE is for the proxy under load: analyze must not
	// overwrite its profile.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AADPROXY_CPUPROFILE=") })
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// Exit code 1 means error-level findings were found: the point here.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return "", fmt.Errorf("aadproxy analyze: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var doc analyzeDoc
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		return "", fmt.Errorf("aadproxy analyze: read its JSON: %w", err)
	}
	if doc.Error != "" {
		return "", fmt.Errorf("aadproxy analyze: %s", doc.Error)
	}
	perFlow := make([]int, entries)
	other := 0
	for _, f := range doc.Findings {
		if f.Rule != "aadsts-error" {
			continue
		}
		if f.Code != 70008 || f.Flow < 0 || f.Flow >= entries {
			other++
			continue
		}
		perFlow[f.Flow]++
	}
	var one, none, more int
	for _, n := range perFlow {
		switch {
		case n == 1:
			one++
		case n == 0:
			none++
		default:
			more++
		}
	}
	summary := fmt.Sprintf("analyze: %d aadsts-error findings (AADSTS70008) for %d recorded requests", one+more, entries)
	var errs []error
	if doc.Flows != entries {
		errs = append(errs, fmt.Errorf("analyze read %d flows, the recording holds %d", doc.Flows, entries))
	}
	if none > 0 {
		errs = append(errs, fmt.Errorf("%d requests have no aadsts-error finding", none))
	}
	if more > 0 {
		errs = append(errs, fmt.Errorf("%d requests have more than one aadsts-error finding", more))
	}
	if other > 0 {
		errs = append(errs, fmt.Errorf("%d aadsts-error findings for another code or flow", other))
	}
	return summary, errors.Join(errs...)
}

// consoleCounter reads aadproxy's --json console output, one object per
// line, and counts aadsts-error findings and the events it says it dropped
// (the console drops and counts when it falls behind; the recording never
// does).
type consoleCounter struct {
	mu       sync.Mutex
	partial  []byte
	findings int64
	dropped  int64
	bad      int64 // lines that are not JSON
}

func (c *consoleCounter) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, b...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
	// Keep the buffer from pinning a large array once drained.
	if len(c.partial) == 0 {
		c.partial = nil
	}
	return len(b), nil
}

func (c *consoleCounter) line(b []byte) {
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	var v struct {
		Type  string `json:"type"`
		Rule  string `json:"rule"`
		Count int64  `json:"count"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		c.bad++
		return
	}
	switch {
	case v.Type == "finding" && v.Rule == "aadsts-error":
		c.findings++
	case v.Type == "dropped":
		c.dropped += v.Count
	}
}

func (c *consoleCounter) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := fmt.Sprintf("console (--json): %d aadsts-error findings, %d events dropped", c.findings, c.dropped)
	if c.bad > 0 {
		s += fmt.Sprintf(", %d lines not JSON", c.bad)
	}
	return s
}
