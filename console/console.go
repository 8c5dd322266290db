// Package console prints flows, findings and notices for a person (coloured
// lines) or a program (JSON lines). It is a pipeline output: it only formats
// what it is given and must not inspect traffic or touch the proxy.
package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/proxy"
)

// Options configures a Printer.
type Options struct {
	// JSON prints one JSON object per line instead of text.
	JSON bool
	// Quiet prints only findings and warnings, not every flow.
	Quiet bool
	// Color forces colour on or off; nil follows fatih/color (NO_COLOR, TTY).
	Color *bool
	// Width shortens long URLs in text mode (0 means 100).
	Width int
}

// Printer writes events to w. Safe for use by one goroutine at a time (the
// pipeline gives each output its own goroutine); a mutex guards w anyway.
type Printer struct {
	w    io.Writer
	opts Options
	mu   sync.Mutex

	dim, ok, redirect, warn, bad, info *color.Color
}

// New returns a Printer writing to w.
func New(w io.Writer, opts Options) *Printer {
	p := &Printer{w: w, opts: opts}
	mk := func(a ...color.Attribute) *color.Color {
		c := color.New(a...)
		if opts.Color != nil {
			if *opts.Color {
				c.EnableColor()
			} else {
				c.DisableColor()
			}
		}
		return c
	}
	p.dim = mk(color.Faint)
	p.ok = mk(color.FgGreen)
	p.redirect = mk(color.FgCyan)
	p.warn = mk(color.FgYellow)
	p.bad = mk(color.FgRed, color.Bold)
	p.info = mk(color.FgBlue)
	if p.opts.Width == 0 {
		p.opts.Width = 100
	}
	return p
}

// FlowLine is the JSON shape of a completed flow.
type FlowLine struct {
	Type       string  `json:"type"` // "flow"
	Flow       int     `json:"flow"`
	Time       string  `json:"time"`
	Method     string  `json:"method"`
	URL        string  `json:"url"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
	// Tag names who made the flow (aadproxy run: the command).
	Tag string `json:"tag,omitempty"`
}

// FindingLine is the JSON shape of a finding: the same object analyze --json
// prints, with a type tag.
type FindingLine struct {
	Type string `json:"type"` // "finding"
	inspect.Finding
}

// NoticeLine is the JSON shape of a notice.
type NoticeLine struct {
	Type string `json:"type"` // "notice"
	proxy.Notice
}

// Flow prints a completed flow and its findings.
func (p *Printer) Flow(f *flow.Flow, findings []inspect.Finding) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opts.JSON {
		p.json(FlowLine{
			Type: "flow", Flow: f.Index, Time: f.Timings.Start.UTC().Format(time.RFC3339Nano),
			Method: f.Request.Method, URL: f.Request.URL, Status: f.Status(),
			DurationMS: durationMS(f), Error: f.Error, Tag: f.Tag,
		})
		for _, fd := range findings {
			p.json(FindingLine{Type: "finding", Finding: fd})
		}
		return
	}
	if !p.opts.Quiet || len(findings) > 0 || f.Error != "" {
		p.flowText(f)
	}
	for _, fd := range findings {
		p.findingText(fd)
	}
}

// Notice prints a notice.
func (p *Printer) Notice(n proxy.Notice) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opts.JSON {
		p.json(NoticeLine{Type: "notice", Notice: n})
		return
	}
	if p.opts.Quiet && n.Level != "warning" {
		return
	}
	c, mark := p.info, "i"
	if n.Level == "warning" {
		c, mark = p.warn, "!"
	}
	line := n.Message
	if n.Host != "" && !strings.Contains(line, n.Host) {
		line = n.Host + ": " + line
	}
	fmt.Fprintf(p.w, "%s %s\n", c.Sprint(mark), line)
	if n.Hint != "" {
		fmt.Fprintf(p.w, "  %s %s\n", p.dim.Sprint("hint:"), n.Hint)
	}
}

// Final prints findings about the whole trace.
func (p *Printer) Final(findings []inspect.Finding) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fd := range findings {
		if p.opts.JSON {
			p.json(FindingLine{Type: "finding", Finding: fd})
		} else {
			p.findingText(fd)
		}
	}
}

// Dropped reports lines lost because the terminal could not keep up.
func (p *Printer) Dropped(n int64) {
	if n == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opts.JSON {
		p.json(map[string]any{"type": "dropped", "count": n})
		return
	}
	fmt.Fprintf(p.w, "%s the console fell behind and skipped %d lines; the recording has every flow\n", p.warn.Sprint("!"), n)
}

func (p *Printer) flowText(f *flow.Flow) {
	status := "---"
	c := p.bad
	switch s := f.Status(); {
	case s == 0:
	case f.Response != nil && f.Response.Synthetic:
		status = fmt.Sprint(s)
	case s < 300:
		status, c = fmt.Sprint(s), p.ok
	case s < 400:
		status, c = fmt.Sprint(s), p.redirect
	case s < 500:
		status, c = fmt.Sprint(s), p.warn
	default:
		status = fmt.Sprint(s)
	}
	size := ""
	if f.Response != nil {
		size = humanBytes(f.Response.Body.Size)
	}
	tag := ""
	if f.Tag != "" {
		tag = p.dim.Sprintf("[%s] ", f.Tag)
	}
	fmt.Fprintf(p.w, "%s%s %s %-6s %s %s %s %s\n",
		tag, p.dim.Sprintf("#%-3d", f.Index),
		p.dim.Sprint(f.Timings.Start.Local().Format("15:04:05.000")),
		f.Request.Method,
		shortURL(f.Request.URL, p.opts.Width),
		c.Sprint(status),
		p.dim.Sprintf("%dms", int64(durationMS(f))),
		p.dim.Sprint(size))
	if f.Error != "" {
		fmt.Fprintf(p.w, "     %s %s\n", p.bad.Sprint("✗"), f.Error)
	}
}

func (p *Printer) findingText(fd inspect.Finding) {
	c, mark := p.info, "i"
	switch fd.Severity {
	case inspect.Error:
		c, mark = p.bad, "✗"
	case inspect.Warning:
		c, mark = p.warn, "!"
	}
	fmt.Fprintf(p.w, "     %s %s %s\n", c.Sprint(mark), c.Sprint(fd.Title), p.dim.Sprintf("[%s]", fd.Rule))
	if fd.Evidence != "" {
		fmt.Fprintf(p.w, "       %s\n", fd.Evidence)
	}
	if fd.Fix != "" {
		fmt.Fprintf(p.w, "       %s %s\n", p.dim.Sprint("fix:"), fd.Fix)
	}
}

func (p *Printer) json(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"type":"error","error":%q}`, err.Error()))
	}
	p.w.Write(append(b, '\n'))
}

func durationMS(f *flow.Flow) float64 {
	if f.Done.IsZero() || f.Timings.Start.IsZero() {
		return 0
	}
	return float64(f.Done.Sub(f.Timings.Start).Microseconds()) / 1000
}

// shortURL drops the scheme and the query's values so a line stays readable;
// the full URL is in the recording.
func shortURL(raw string, width int) string {
	u, err := url.Parse(raw)
	if err != nil {
		return truncate(raw, width)
	}
	s := u.Host + u.EscapedPath()
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	return truncate(s, width)
}

func truncate(s string, n int) string {
	if n < 10 || len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func humanBytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%dB", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1fKB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	}
}
