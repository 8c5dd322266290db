package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// maxErrors bounds the error log of one tab: a page that throws in a loop
// must not eat the test's memory.
const maxErrors = 1000

// errorLog collects the errors of one tab. Chromium's events reach add on
// the tab's reading goroutine while the test reads the log, hence the lock.
type errorLog struct {
	tab *chromedp.Context // the tab whose events add sees; set before the tab starts

	mu      sync.Mutex
	errs    []string
	dropped int
}

type errorLogKey struct{}

// add is the tab's listener (chromedp.WithListener): it runs inside the loop
// that reads the tab's messages, so it only formats and appends.
func (l *errorLog) add(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + exceptionText(ev.ExceptionDetails)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		msg = "console." + string(ev.Type) + ": " + argsText(ev.Args) + place(ev.StackTrace, "", 0)
	case *log.EventEntryAdded:
		e := ev.Entry
		if e == nil || e.Level != log.EntryLevelError || isFavicon(e) {
			return
		}
		msg = "log." + string(e.Source) + ": " + e.Text + place(e.StackTrace, e.URL, e.LineNumber)
	default:
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) >= maxErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, msg)
}

// Errors returns the JavaScript errors of the page of ctx since New, oldest
// first: uncaught exceptions and unhandled rejections ("exception: …"),
// console.error and failed console.assert calls ("console.error: …"), and
// the browser's own error entries ("log.network: Failed to load resource…",
// "log.security: …"), each with the script's place when Chromium gives
// one. A failed /favicon.ico, which Chromium asks for by itself, is left out.
//
// It first evaluates a no-op in the page, so every error that the page
// reported before that round trip is in the result; an error from a timer
// or a fetch that is still pending is not, so wait for the page's state
// (WaitJS) first. ctx must be the context New returned: a tab opened from it
// with chromedp.NewContext has no error log, and Errors fails the test
// rather than return nothing for it.
func Errors(t testing.TB, ctx context.Context) []string {
	t.Helper()
	l, _ := ctx.Value(errorLogKey{}).(*errorLog)
	if l == nil || chromedp.FromContext(ctx) != l.tab {
		t.Fatalf("browsertest.Errors: ctx is not a context from browsertest.New")
	}
	if ctx.Err() == nil {
		bctx, cancel := context.WithTimeout(ctx, pageInfoTimeout)
		_, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void]("0"))
		cancel()
		if err != nil {
			t.Logf("browsertest.Errors: the page did not answer (%v); errors it reported last may be missing", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := slices.Clone(l.errs)
	if l.dropped > 0 {
		errs = append(errs, fmt.Sprintf("browsertest: %d more errors dropped", l.dropped))
	}
	return errs
}

// NoErrors fails the test when the page of ctx reported errors; see Errors.
func NoErrors(t testing.TB, ctx context.Context) {
	t.Helper()
	if errs := Errors(t, ctx); len(errs) > 0 {
		t.Errorf("the page reported %d errors:\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
}

// exceptionText formats an uncaught exception as the DevTools console's
// first line: "Uncaught Error: boom (http://…/app.js:12:5)".
func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	text := d.Text
	if obj := d.Exception; obj != nil {
		// The description of an Error is its stack; its first line is
		// "Error: message".
		desc, _, _ := strings.Cut(valueText(obj), "\n")
		text = strings.TrimSpace(text + " " + desc)
	}
	url, line, col := d.URL, d.LineNumber, d.ColumnNumber
	if st := d.StackTrace; url == "" && st != nil && len(st.CallFrames) > 0 {
		f := st.CallFrames[0]
		url, line, col = f.URL, f.LineNumber, f.ColumnNumber
	}
	if url == "" {
		return text
	}
	return fmt.Sprintf("%s (%s:%d:%d)", text, url, line+1, col+1)
}

// isFavicon reports whether e is the failed load of /favicon.ico, which
// Chromium asks for by itself, not the page.
func isFavicon(e *log.Entry) bool {
	u, err := url.Parse(e.URL)
	return err == nil && e.Source == log.EntrySourceNetwork && u.Path == "/favicon.ico"
}

// place returns " (url:line:col)" for the top of st, or for url and line
// when st has no frames, or "" when nothing is known.
func place(st *runtime.StackTrace, url string, line int64) string {
	if st != nil && len(st.CallFrames) > 0 {
		f := st.CallFrames[0]
		return fmt.Sprintf(" (%s:%d:%d)", f.URL, f.LineNumber+1, f.ColumnNumber+1)
	}
	if url == "" {
		return ""
	}
	return fmt.Sprintf(" (%s:%d)", url, line+1)
}

// argsText joins console arguments as the console shows them, roughly:
// strings as they are, other values by their description.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		parts = append(parts, valueText(a))
	}
	return strings.Join(parts, " ")
}

func valueText(o *runtime.RemoteObject) string {
	switch {
	case o == nil:
		return ""
	case o.Type == runtime.RemoteObjectTypeString:
		var s string
		if json.Unmarshal([]byte(o.Value), &s) == nil {
			return s
		}
	case o.Type == runtime.RemoteObjectTypeUndefined:
		return "undefined"
	case o.UnserializableValue != "":
		return string(o.UnserializableValue)
	case o.Description != "":
		return o.Description
	}
	return string(o.Value)
}
