package ui

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/browsertest"
	"github.com/aadproxy/aadproxy/trace"
)

// The page's own tests: the embedded inspector in headless Chromium, served
// over loopback the way `aadproxy ui FILE` and a live capture serve it.
// They read the page through its DOM only (rows, counts, toasts), and check
// it against what the store and the trace readers say.

// pageRow is a flow row as the page shows it.
type pageRow struct {
	ID     int64  `json:"id"`
	Method string `json:"method"`
	Host   string `json:"host"`
	Path   string `json:"path"`
	Status string `json:"status"`
}

// inViewJS lists the rows wholly inside the list's viewport (below its
// sticky header): what a person sees, not the pool's off-screen rows.
const inViewJS = `(() => {
	const sc = document.querySelector('#flows');
	const top = document.querySelector('#flow-head').getBoundingClientRect().bottom;
	const bottom = sc.getBoundingClientRect().top + sc.clientTop + sc.clientHeight;
	return [...document.querySelectorAll('#flow-rows .row:not([hidden])')].filter(r => {
		const b = r.getBoundingClientRect();
		return b.height > 0 && b.top >= top - 1 && b.bottom <= bottom + 1;
	}).map(r => ({
		id: Number(r.dataset.id),
		method: r.querySelector('.c-method').textContent,
		host: r.querySelector('.c-host').textContent,
		path: r.querySelector('.c-path').textContent,
		status: r.querySelector('.c-status').textContent,
	}));
})()`

// coversViewJS is true when the rows drawn cover the list's viewport down
// to the end of the list: the virtual list has caught up with the scroll
// position and left no blank band.
const coversViewJS = `(() => {
	const sc = document.querySelector('#flows');
	const top = document.querySelector('#flow-head').getBoundingClientRect().bottom;
	const end = Math.min(sc.getBoundingClientRect().top + sc.clientTop + sc.clientHeight,
		document.querySelector('#flow-spacer').getBoundingClientRect().bottom);
	const rows = [...document.querySelectorAll('#flow-rows .row:not([hidden])')].map(r => r.getBoundingClientRect());
	if (end - top < 1) return true;
	if (!rows.length) return false;
	return Math.min(...rows.map(b => b.top)) <= top + 1 && Math.max(...rows.map(b => b.bottom)) >= end - 1;
})()`

// allRowsJS counts every flow row element, hidden pool rows included: what
// the DOM holds, which must not grow with the number of flows.
const allRowsJS = `document.querySelectorAll('.row').length`

// maxRowElements is the bound on row elements a virtual list must keep.
const maxRowElements = 500

// rowWatchJS runs before the page's own script and keeps in window.maxRows
// the most .row elements the document ever held, so that a burst between
// two looks from the test does not go unseen.
const rowWatchJS = `window.maxRows = 0;
(() => {
	const rows = document.getElementsByClassName('row');
	new MutationObserver(() => { if (rows.length > window.maxRows) window.maxRows = rows.length; })
		.observe(document, {childList: true, subtree: true});
})();`

// watchRows installs rowWatchJS for the documents the tab loads next.
func watchRows(t *testing.T, ctx context.Context) {
	t.Helper()
	browsertest.Run(t, ctx, chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: rowWatchJS})
		return err
	}))
}

// servePage serves store over 127.0.0.1:0 as the aadproxy commands do and
// returns the page's address with the token. The listener and the store
// close when the test ends, after the browser (registered later) closes.
func servePage(t *testing.T, store *Store, o Options) (pageURL string, srv *Server) {
	t.Helper()
	srv, err := NewServer(store, o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		store.Close() // ends the live channels, which Serve does not wait for
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return URL(l.Addr().String(), srv.Token()), srv
}

// apiMatch asks the server, as a script would, which flows match expr.
func apiMatch(t *testing.T, pageURL, token, expr string) []int64 {
	t.Helper()
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", "http://"+u.Host+"/api/match?filter="+url.QueryEscape(expr), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		IDs []int64 `json:"ids"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/match?filter=%q: %d, %v", expr, resp.StatusCode, err)
	}
	return got.IDs
}

// waitFramesJS resolves after two animation frames: long enough for a
// scroll event and the render it schedules.
const waitFramesJS = `new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))`

// scrollList sets the list's scrollTop (a JS expression of sc, the
// scroller) and waits until the rows drawn cover the viewport again.
func scrollList(t *testing.T, ctx context.Context, top string) {
	t.Helper()
	browsertest.Run(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => { const sc = document.querySelector('#flows'); sc.scrollTop = `+top+`; })()`))
	browsertest.Get(t, ctx, chromedp.Evaluate[bool](waitFramesJS, chromedp.EvalAwaitPromise))
	browsertest.WaitJS(t, ctx, coversViewJS, 10*time.Second)
}

// rowsInView returns the rows wholly in the list's viewport, in page order.
func rowsInView(t *testing.T, ctx context.Context) []pageRow {
	t.Helper()
	return browsertest.Get(t, ctx, chromedp.Evaluate[[]pageRow](inViewJS))
}

// scrollThrough scrolls the list from top to bottom a little less than a
// screen at a time and returns every row seen, ordered by id, each once.
// It fails the test past limit screens, so a list far longer than the
// caller thinks does not scroll for ever.
func scrollThrough(t *testing.T, ctx context.Context, limit int) []pageRow {
	t.Helper()
	seen := map[int64]pageRow{}
	scrollList(t, ctx, "0")
	for screen := 0; ; screen++ {
		if screen > limit {
			t.Fatalf("still not at the end of the list after %d screens", limit)
		}
		for _, r := range rowsInView(t, ctx) {
			seen[r.ID] = r
		}
		atEnd := browsertest.Get(t, ctx, chromedp.Evaluate[bool](`(() => {
			const sc = document.querySelector('#flows');
			return sc.scrollTop + sc.clientHeight >= sc.scrollHeight - 1;
		})()`))
		if atEnd {
			break
		}
		// A screen less two rows, so that no row falls between two looks.
		scrollList(t, ctx, `sc.scrollTop + Math.max(22, sc.clientHeight - document.querySelector('#flow-head').offsetHeight - 44)`)
	}
	rows := make([]pageRow, 0, len(seen))
	for _, r := range seen {
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b pageRow) int { return int(a.ID - b.ID) })
	return rows
}

// checkRowBound fails the test when the DOM holds maxRowElements rows or
// more, hidden pool rows included.
func checkRowBound(t *testing.T, ctx context.Context, when string) {
	t.Helper()
	if n := browsertest.Get(t, ctx, chromedp.Evaluate[int](allRowsJS)); n >= maxRowElements {
		t.Errorf("%s: the DOM holds %d .row elements, want fewer than %d whatever the number of flows", when, n, maxRowElements)
	} else {
		t.Logf("%s: %d .row elements in the DOM", when, n)
	}
}

// countLine is the page's line of counts for c, as in "100 000 flows ·
// 137 errors · 0 warnings".
func countLine(c Counts) string {
	group := func(n int64) string {
		s := fmt.Sprint(n)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + " " + s[i:]
		}
		return s
	}
	plural := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return group(n) + " " + one + "s"
	}
	return plural(int64(c.Flows), "flow") + " · " + plural(c.Errors, "error") + " · " + plural(c.Warnings, "warning")
}

// waitCounts waits until the page's counts are the store's.
func waitCounts(t *testing.T, ctx context.Context, store *Store, timeout time.Duration) {
	t.Helper()
	browsertest.WaitJS(t, ctx, fmt.Sprintf(`document.querySelector('#count').textContent === %q`, countLine(store.counts())), timeout)
}

// noErrorsButHalfTyped is browsertest.NoErrors, except for the 400
// answers of /api/match to an expression typed half-way: the page asks the
// server whenever typing pauses for its debounce, a loaded machine may
// pause between two keys at "~aadsts", and Chromium logs every 4xx answer
// to a fetch as an error. The finished expression's answer is checked by
// the caller (no #filter-error, the right count).
func noErrorsButHalfTyped(t *testing.T, ctx context.Context) {
	t.Helper()
	var errs []string
	for _, e := range browsertest.Errors(t, ctx) {
		if strings.HasPrefix(e, "log.network: ") && strings.Contains(e, "status of 400") && strings.Contains(e, "/api/match?filter=") {
			t.Logf("ignored, provoked by typing: %s", e)
			continue
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		t.Errorf("the page reported %d errors:\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
}

// wantRow is a flow as the list should show it: its request line's parts.
type wantRow struct {
	method, host, path string
	status             int
}

func wantRowOf(f *flow.Flow) wantRow {
	w := wantRow{method: f.Request.Method, path: f.Request.URL, status: f.Status()}
	if u, err := url.Parse(f.Request.URL); err == nil {
		w.host, w.path = u.Host, u.RequestURI()
	}
	return w
}

// readTrace reads a trace with the trace package alone, not the store.
func readTrace(t *testing.T, path string) []wantRow {
	t.Helper()
	var rows []wantRow
	if _, _, err := trace.Open(path, func(_ int, f *flow.Flow) error {
		rows = append(rows, wantRowOf(f))
		return nil
	}); err != nil {
		t.Fatalf("trace.Open(%s): %v", path, err)
	}
	return rows
}

// compareRows checks the page's rows against the trace's flows, in order.
func compareRows(t *testing.T, got []pageRow, want []wantRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("the page shows %d flows, want %d: %+v", len(got), len(want), got)
		return
	}
	for i, w := range want {
		g := got[i]
		status := ""
		if w.status != 0 {
			status = fmt.Sprint(w.status)
		}
		if g.Method != w.method || g.Host != w.host || g.Path != w.path || status != "" && g.Status != status {
			t.Errorf("row %d: got %s %s %s %s, want %s %s %s %s", i, g.Method, g.Host, g.Path, g.Status, w.method, w.host, w.path, status)
		}
	}
}

func TestInspectorOfASAZShowsItsFlows(t *testing.T) {
	const path, name = "../trace/testdata/sample.saz", "sample.saz"
	want := readTrace(t, path)
	// A second count that shares no code with the reader: Fiddler writes
	// one raw/NN_c.txt per session.
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	sessions := 0
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "raw/") && strings.HasSuffix(f.Name, "_c.txt") {
			sessions++
		}
	}
	zr.Close()
	if len(want) == 0 || len(want) != sessions {
		t.Fatalf("trace.Open reads %d flows from %s, which holds %d sessions", len(want), path, sessions)
	}

	store := NewStore(StoreOptions{})
	if n, err := store.ImportFile(path, name); err != nil || n != len(want) {
		t.Fatalf("ImportFile(%s): %d, %v; want %d flows", path, n, err, len(want))
	}
	pageURL, _ := servePage(t, store, Options{Mode: "file", Source: name})

	ctx := browsertest.New(t, browsertest.Options{})
	browsertest.Run(t, ctx, chromedp.Navigate(pageURL))
	browsertest.WaitJS(t, ctx, fmt.Sprintf(`document.querySelectorAll('#flow-rows .row:not([hidden])').length === %d`, len(want)), 30*time.Second)
	waitCounts(t, ctx, store, 10*time.Second)
	if st := browsertest.Get(t, ctx, chromedp.Text(chromedp.CSS("#status"))); !strings.Contains(st, "File "+name) {
		t.Errorf("the status line says %q, want it to name the file %s", st, name)
	}
	compareRows(t, scrollThrough(t, ctx, 100), want)
	hosts := map[string]bool{}
	for _, w := range want {
		hosts[w.host] = true
	}
	t.Logf("%d flows from %d hosts: %v", len(want), len(hosts), slices.Sorted(maps.Keys(hosts)))
	scrollList(t, ctx, "0")
	browsertest.Screenshot(t, ctx, "saz")
	browsertest.NoErrors(t, ctx)
}

func TestDragAndDropImport(t *testing.T) {
	const harPath, name = "../trace/testdata/chrome.har", "chrome.har"
	want := readTrace(t, harPath)
	data, err := os.ReadFile(harPath)
	if err != nil {
		t.Fatal(err)
	}

	store := NewStore(StoreOptions{})
	pageURL, _ := servePage(t, store, Options{Mode: "live", Proxy: "127.0.0.1:8080"})
	ctx := browsertest.New(t, browsertest.Options{})
	browsertest.Run(t, ctx, chromedp.Navigate(pageURL))
	browsertest.WaitJS(t, ctx, `!document.querySelector('#flows-empty').hidden && document.querySelector('#flows-empty').textContent.includes('No flows yet')`, 30*time.Second)

	// Every text the toast shows, kept: a toast hides itself after a while.
	browsertest.Run(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		window.toasts = [];
		const t = document.querySelector('#toast');
		new MutationObserver(() => { if (!t.hidden) window.toasts.push(t.textContent); })
			.observe(t, {childList: true, characterData: true, attributes: true, subtree: true});
	})()`))

	// The drag as Chromium delivers it: dragenter and dragover on the
	// element under the pointer, bubbling to the window, then drop if the
	// page cancelled dragover (which is how a page accepts a drop).
	text, err := json.Marshal(string(data))
	if err != nil {
		t.Fatal(err)
	}
	type accepted struct {
		Enter bool `json:"enter"`
		Over  bool `json:"over"`
	}
	got := browsertest.Get(t, ctx, chromedp.Evaluate[accepted](fmt.Sprintf(`(() => {
		const file = new File([%s], %q, {type: ""});
		const dt = new DataTransfer();
		dt.items.add(file);
		window.dragged = dt;
		const target = document.querySelector('#flows-empty');
		const fire = type => !target.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true, composed: true, clientX: 300, clientY: 300}));
		return {enter: fire('dragenter'), over: fire('dragover')};
	})()`, text, name)))
	if !got.Enter || !got.Over {
		t.Fatalf("the page did not accept the dragged file (dragenter cancelled: %v, dragover cancelled: %v)", got.Enter, got.Over)
	}
	browsertest.WaitJS(t, ctx, `!document.querySelector('#drop').hidden`, 5*time.Second)
	browsertest.Screenshot(t, ctx, "dragging")

	dropped := browsertest.Get(t, ctx, chromedp.Evaluate[bool](`!document.querySelector('#flows-empty').dispatchEvent(new DragEvent('drop', {dataTransfer: window.dragged, bubbles: true, cancelable: true, composed: true, clientX: 300, clientY: 300}))`))
	if !dropped {
		t.Errorf("the page did not handle the drop (it did not cancel the drop event, so Chromium would open the file instead)")
	}
	imported := fmt.Sprintf("Imported %d flows from %s", len(want), name)
	browsertest.WaitJS(t, ctx, fmt.Sprintf(`window.toasts.includes(%q)`, imported), 30*time.Second)
	browsertest.WaitJS(t, ctx, fmt.Sprintf(`document.querySelectorAll('#flow-rows .row:not([hidden])').length === %d`, len(want)), 30*time.Second)
	if c := store.counts(); c.Flows != len(want) {
		t.Errorf("the store holds %d flows after the drop, want %d", c.Flows, len(want))
	}
	// The findings the import made are counted too, without a reload.
	waitCounts(t, ctx, store, 10*time.Second)
	if hidden := browsertest.Get(t, ctx, chromedp.Evaluate[bool](`document.querySelector('#drop').hidden`)); !hidden {
		t.Errorf("the drop overlay is still shown after the drop")
	}
	compareRows(t, scrollThrough(t, ctx, 100), want)
	toasts := browsertest.Get(t, ctx, chromedp.Evaluate[[]string](`window.toasts`))
	t.Logf("toasts: %q", toasts)
	browsertest.Screenshot(t, ctx, "dropped")

	// A file the page cannot import is refused with a word, not sent.
	browsertest.Run(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const dt = new DataTransfer();
		dt.items.add(new File(["not a trace"], "notes.txt", {type: "text/plain"}));
		const target = document.querySelector('#flows');
		for (const type of ['dragenter', 'dragover', 'drop'])
			target.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true, composed: true}));
	})()`))
	browsertest.WaitJS(t, ctx, `window.toasts.some(t => t.includes('notes.txt: only .har and .saz files can be imported'))`, 10*time.Second)
	if c := store.counts(); c.Flows != len(want) {
		t.Errorf("the store holds %d flows after a .txt was dropped, want still %d", c.Flows, len(want))
	}
	browsertest.NoErrors(t, ctx)
}

// Sizes of the big trace: the requirement is 100 000 flows, of which
// bigErrors are failed token requests spread through it.
const (
	bigFlows  = 100_000
	bigErrors = 137
)

// bigErrorBody is the token endpoint's answer to a failed redemption.
const bigErrorBody = `{"error":"invalid_grant","error_description":"AADSTS50143: Session mismatch. Trace ID: 0b7c2f3e-1111-4222-8333-944455556666 Correlation ID: 5a6b7c8d-1111-4222-8333-944455556666 Timestamp: 2026-12-04 10:00:00Z","error_codes":[50143]}`

// writeBigTrace writes a HAR of n flows: GETs of small scripts from a CDN,
// and k failed token requests at evenly spread positions, which it returns
// (ascending). The last flow is always a script, /asset/<n-1>.js.
func writeBigTrace(t testing.TB, path string, n, k int) []int {
	t.Helper()
	errAt := make([]int, k)
	for j := range errAt {
		errAt[j] = (2*j + 1) * n / (2 * k)
	}
	rec, err := trace.Create(path, "aadproxy-test", "0")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	jsHeaders := flow.Headers{{Name: "Content-Type", Value: "application/javascript"}}
	jsBody := []byte("x();")
	reqHeaders := flow.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}
	reqBody := []byte("grant_type=authorization_code&client_id=11111111-2222-3333-4444-555555555555&code=synthetic")
	errHeaders := flow.Headers{{Name: "Content-Type", Value: "application/json; charset=utf-8"}}
	const batch = 5000
	flows := make([]*flow.Flow, 0, batch)
	next := 0 // index into errAt
	for i := range n {
		start := base.Add(time.Duration(i) * time.Millisecond)
		f := &flow.Flow{Index: i, Timings: flow.Timings{Start: start, Wait: 2 * time.Millisecond}, Done: start.Add(3 * time.Millisecond)}
		if next < k && errAt[next] == i {
			next++
			f.Request = &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", Proto: "HTTP/1.1",
				Header: reqHeaders, Body: flow.Body{Raw: reqBody, Size: int64(len(reqBody))}}
			f.Response = &flow.Response{Status: 400, Reason: "Bad Request", Proto: "HTTP/1.1",
				Header: errHeaders, Body: flow.Body{Raw: []byte(bigErrorBody), Size: int64(len(bigErrorBody))}}
		} else {
			f.Request = &flow.Request{Method: "GET", URL: fmt.Sprintf("https://cdn.example.com/asset/%d.js", i), Proto: "HTTP/1.1"}
			f.Response = &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: jsHeaders, Body: flow.Body{Raw: jsBody, Size: int64(len(jsBody))}}
		}
		flows = append(flows, f)
		if len(flows) == batch || i == n-1 {
			if err := rec.WriteBatch(flows); err != nil {
				t.Fatal(err)
			}
			flows = flows[:0]
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	return errAt
}

func TestHundredThousandFlows(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPING: 100 000 flows in a browser take a while; run without -short")
	}
	testStart := time.Now()
	path := filepath.Join(t.TempDir(), "big.har")
	start := time.Now()
	errAt := writeBigTrace(t, path, bigFlows, bigErrors)
	t.Logf("wrote %d flows to a HAR in %v", bigFlows, time.Since(start).Round(time.Millisecond))

	store := NewStore(StoreOptions{})
	start = time.Now()
	n, err := store.ImportFile(path, "big.har")
	importTook := time.Since(start)
	if err != nil || n != bigFlows {
		t.Fatalf("ImportFile: %d flows, %v; want %d", n, err, bigFlows)
	}
	t.Logf("ImportFile of %d flows (reading, rules, store) took %v", n, importTook.Round(time.Millisecond))
	if c := store.counts(); c.Flows != bigFlows || c.Evicted != 0 {
		t.Fatalf("the store holds %d flows (%d evicted), want all %d", c.Flows, c.Evicted, bigFlows)
	}
	pageURL, srv := servePage(t, store, Options{Mode: "file", Source: "big.har"})

	const expr = "~aadsts 50143"
	ids := apiMatch(t, pageURL, srv.Token(), expr)
	wantIDs := make([]int64, len(errAt))
	for i, at := range errAt {
		wantIDs[i] = int64(at) // a fresh store numbers flows from 0
	}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("/api/match?filter=%s answers %d ids, want the %d failed token requests %v…", expr, len(ids), len(wantIDs), wantIDs[:3])
	}

	ctx := browsertest.New(t, browsertest.Options{})
	watchRows(t, ctx)
	start = time.Now()
	browsertest.Run(t, ctx, chromedp.Navigate(pageURL))
	checkRowBound(t, ctx, "page opened")
	if c := countLine(store.counts()); !strings.HasPrefix(c, "100 000 flows · ") {
		t.Fatalf("countLine(%+v) = %q, want it to group thousands as the page does", store.counts(), c)
	}
	waitCounts(t, ctx, store, 60*time.Second)
	browsertest.WaitJS(t, ctx, coversViewJS+` && document.querySelectorAll('#flow-rows .row:not([hidden])').length > 0`, 30*time.Second)
	t.Logf("the page showed %d flows %v after it was asked for", bigFlows, time.Since(start).Round(time.Millisecond))
	checkRowBound(t, ctx, "loaded")

	// The top: the first flows, in order.
	scrollList(t, ctx, "0")
	top := rowsInView(t, ctx)
	if len(top) < 10 {
		t.Fatalf("the top of the list shows %d rows: %+v", len(top), top)
	}
	for i, r := range top {
		if r.ID != int64(i) {
			t.Errorf("row %d at the top shows flow %d (%s %s)", i, r.ID, r.Method, r.Path)
		}
	}
	if top[0].Path != "/asset/0.js" {
		t.Errorf("the first row shows %q, want /asset/0.js", top[0].Path)
	}
	checkRowBound(t, ctx, "top")
	browsertest.Screenshot(t, ctx, "top")

	// The middle, then the end: scrolled as a person drags the scroll bar.
	scrollList(t, ctx, "sc.scrollHeight / 2")
	checkRowBound(t, ctx, "middle")
	scrollList(t, ctx, "sc.scrollHeight")
	end := rowsInView(t, ctx)
	last := fmt.Sprintf("/asset/%d.js", bigFlows-1)
	if len(end) == 0 || end[len(end)-1].Path != last || end[len(end)-1].ID != bigFlows-1 {
		t.Errorf("scrolled to the end, the last row in view is %+v, want flow %d %s", end[len(end)-1:], bigFlows-1, last)
	}
	checkRowBound(t, ctx, "end")
	browsertest.Screenshot(t, ctx, "end")

	// The filter, typed: exactly the failed token requests remain.
	browsertest.Run(t, ctx, chromedp.SendKeys(chromedp.CSS("#filter"), expr))
	browsertest.WaitJS(t, ctx, fmt.Sprintf(`document.querySelector('#match-count').textContent === '%d shown'`, bigErrors), 60*time.Second)
	if msg := browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.querySelector('#filter-error').hidden ? '' : document.querySelector('#filter-error').textContent`)); msg != "" {
		t.Errorf("the filter %q shows an error: %s", expr, msg)
	}
	checkRowBound(t, ctx, "filtered")
	shown := scrollThrough(t, ctx, 100)
	gotIDs := make([]int64, len(shown))
	for i, r := range shown {
		gotIDs[i] = r.ID
		if r.Method != "POST" || r.Host != "login.microsoftonline.com" || !strings.HasSuffix(r.Path, "/oauth2/v2.0/token") || r.Status != "400" {
			t.Errorf("filtered row %d is %s %s %s %s, want a failed token request", i, r.Method, r.Host, r.Path, r.Status)
		}
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("scrolling through the filtered list shows %d flows, want the %d failed token requests", len(gotIDs), len(wantIDs))
	}
	scrollList(t, ctx, "0")
	checkRowBound(t, ctx, "filtered, top")
	browsertest.Screenshot(t, ctx, "filtered")
	if most := browsertest.Get(t, ctx, chromedp.Evaluate[int](`window.maxRows`)); most >= maxRowElements || most == 0 {
		t.Errorf("the DOM held up to %d .row elements at once, want between 1 and %d", most, maxRowElements-1)
	} else {
		t.Logf("the DOM held at most %d .row elements at once", most)
	}
	noErrorsButHalfTyped(t, ctx)
	t.Logf("the test took %v", time.Since(testStart).Round(time.Millisecond))
}
