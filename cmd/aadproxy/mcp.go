package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/aadproxy/aadproxy/internal/runfile"
	"github.com/aadproxy/aadproxy/mcpserver"
	"github.com/aadproxy/aadproxy/trace"
	"github.com/aadproxy/aadproxy/ui"
)

type mcpOptions struct {
	from         string
	home         string
	pid          int
	raw          bool
	allowControl bool
}

func parseMCP(args []string, stderr io.Writer) (mcpOptions, error) {
	var o mcpOptions
	fs := newFlagSet("mcp", stderr)
	fs.StringVar(&o.from, "from", "", "read the trace in `FILE` (HAR or SAZ) instead of the running proxy")
	fs.StringVar(&o.home, "home", "", "aadproxy's folder, where the running proxy's run file is")
	fs.IntVar(&o.pid, "pid", 0, "read the proxy with this `PID` (default: the newest running one)")
	fs.BoolVar(&o.raw, "raw", false, "answer with UNSANITIZED flows (passwords, codes, tokens, cookies) — only for an assistant you trust with them")
	fs.BoolVar(&o.allowControl, "allow-control", false, "also offer clear, pause and resume of the running proxy")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q", fs.Arg(0))
	}
	if o.from != "" && (o.pid != 0 || o.allowControl) {
		return o, usagef("--from reads a file: --pid and --allow-control are for a running proxy")
	}
	return o, nil
}

// runMCP serves the MCP server over stdio. Its stdout carries nothing but
// JSON-RPC: everything for a person goes to stderr.
func runMCP(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseMCP(args, stderr)
	if err != nil {
		return err
	}
	so := mcpserver.Options{Raw: o.raw, AllowControl: o.allowControl, Version: version, OpenFile: openTraceAPI}
	var done func()
	if o.from != "" {
		so.Source, done = fileSource(o.from, stderr)
		defer done()
	} else {
		home, err := homeDir(o.home)
		if err != nil {
			return err
		}
		so.Source, so.Live = &liveSource{home: home, pid: o.pid}, true
		if _, err := (&liveSource{home: home, pid: o.pid}).api(); err != nil {
			fmt.Fprintf(stderr, "aadproxy mcp: %v; the tools will say so until one runs\n", err)
		}
	}
	if o.raw {
		fmt.Fprintln(stderr, "! aadproxy mcp --raw: answers hold UNSANITIZED passwords, codes, tokens and cookies")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := mcpserver.New(so)
	err = srv.ServeIO(ctx, stdin, stdout)
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, io.EOF)) {
		return nil
	}
	return err
}

// liveSource finds the running proxy through its run file at each call, so
// a proxy started after the assistant launched this server is found.
type liveSource struct {
	home string
	pid  int
}

func (l *liveSource) api() (*mcpserver.HTTPAPI, error) {
	info, err := runfile.Find(l.home, l.pid)
	if err != nil {
		return nil, fmt.Errorf("%v — start one with `aadproxy`, or read a file with `aadproxy mcp --from FILE`", err)
	}
	if info.UI == "" {
		return nil, fmt.Errorf("the running aadproxy (pid %d) has no web inspector (started with --no-ui): restart it without --no-ui", info.PID)
	}
	return &mcpserver.HTTPAPI{Base: info.UI, Token: info.Token}, nil
}

// Do implements mcpserver.API.
func (l *liveSource) Do(ctx context.Context, method, path string, q url.Values, v any) error {
	a, err := l.api()
	if err != nil {
		return err
	}
	return a.Do(ctx, method, path, q, v)
}

// fileSource analyses a trace in process. A file that cannot be read
// still gives a server, whose tools say what is wrong.
func fileSource(path string, stderr io.Writer) (mcpserver.API, func()) {
	api, done, err := openTraceAPI(context.Background(), path)
	if err != nil {
		fmt.Fprintf(stderr, "aadproxy mcp: %v\n", err)
		return mcpserver.NoProxy{Why: err.Error()}, func() {}
	}
	return api, done
}

// openTraceAPI analyses a regular .har or .saz file and serves the
// inspector's API over it in process. Errors name the file and the byte
// where it is damaged, never its content.
func openTraceAPI(_ context.Context, path string) (mcpserver.API, func(), error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".har" && ext != ".saz" {
		return nil, nil, fmt.Errorf("%s: only .har and .saz files are analysed", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	store := ui.NewStore(ui.StoreOptions{})
	name := filepath.Base(path)
	n, readErr := store.ImportFile(path, name)
	if readErr != nil && n == 0 {
		store.Close()
		return nil, nil, fmt.Errorf("%s could not be read as a HAR or SAZ trace (%s)", path, damageOf(readErr))
	}
	srv, err := ui.NewServer(store, ui.Options{Mode: "file", Source: name, Version: version})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return mcpserver.NewLocalAPI(srv), store.Close, nil
}

// damageOf says where a trace is damaged without quoting its bytes.
func damageOf(err error) string {
	var he *trace.DamageError
	if errors.As(err, &he) {
		return fmt.Sprintf("damaged at byte %d, after %d complete entries", he.Offset, he.Entry)
	}
	var se *trace.SAZDamageError
	if errors.As(err, &se) {
		return fmt.Sprintf("damaged SAZ at byte %d, %d complete sessions read", se.Offset, se.Complete)
	}
	return "not a HAR (JSON) or SAZ (zip) file"
}
