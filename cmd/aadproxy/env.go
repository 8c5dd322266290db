package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/launch"
	"github.com/aadproxy/aadproxy/internal/runfile"
	"github.com/aadproxy/aadproxy/proxy"
)

type envOptions struct {
	home  string
	pid   int
	shell string
	unset bool
}

func parseEnv(args []string, stderr io.Writer) (envOptions, error) {
	var o envOptions
	fs := newFlagSet("env", stderr)
	fs.StringVar(&o.home, "home", "", "aadproxy's folder, where the running proxy's run file is")
	fs.IntVar(&o.pid, "pid", 0, "wire to the proxy with this `PID` (default: the newest running one)")
	fs.StringVar(&o.shell, "shell", "", "`SHELL` syntax: bash, zsh, fish, powershell or cmd (default: from $SHELL, powershell on Windows)")
	fs.BoolVar(&o.unset, "unset", false, "print the lines that undo the settings")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q", fs.Arg(0))
	}
	if o.shell == "" {
		o.shell = defaultShell()
	}
	if _, ok := shells[o.shell]; !ok {
		return o, usagef("--shell %q: want bash, zsh, fish, powershell or cmd", o.shell)
	}
	return o, nil
}

func defaultShell() string {
	if runtime.GOOS == "windows" {
		return "powershell"
	}
	if s := filepath.Base(os.Getenv("SHELL")); s == "fish" || s == "zsh" {
		return s
	}
	return "bash"
}

// shellSyntax writes one variable's setting or removal.
type shellSyntax struct {
	set   func(k, v string) string
	unset func(k string) string
}

var shells = map[string]shellSyntax{
	"bash": {func(k, v string) string { return "export " + k + "=" + posixQuote(v) }, func(k string) string { return "unset " + k }},
	"zsh":  {func(k, v string) string { return "export " + k + "=" + posixQuote(v) }, func(k string) string { return "unset " + k }},
	"fish": {func(k, v string) string { return "set -gx " + k + " " + posixQuote(v) }, func(k string) string { return "set -e " + k }},
	"powershell": {func(k, v string) string { return "$env:" + k + " = '" + strings.ReplaceAll(v, "'", "''") + "'" },
		func(k string) string { return "Remove-Item Env:" + k + " -ErrorAction SilentlyContinue" }},
	"cmd": {func(k, v string) string { return "set " + k + "=" + v }, func(k string) string { return "set " + k + "=" }},
}

func posixQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }

// runEnv prints the settings that wire a shell to the running proxy, as
// `aadproxy run` sets them for its command: eval "$(aadproxy env)".
func runEnv(args []string, stdout, stderr io.Writer) error {
	o, err := parseEnv(args, stderr)
	if err != nil {
		return err
	}
	home, err := homeDir(o.home)
	if err != nil {
		return err
	}
	sh := shells[o.shell]
	current := os.Environ()
	if o.unset {
		for _, line := range unsetLines(current, sh) {
			fmt.Fprintln(stdout, line)
		}
		return nil
	}
	info, err := runfile.Find(home, o.pid)
	if err != nil {
		return fmt.Errorf("%v (aadproxy env wires a shell to a running proxy; `aadproxy run -- CMD` needs none)", err)
	}
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		return err
	}
	w, err := wiring(home, ca)
	if err != nil {
		return err
	}
	w.ProxyURL = "http://" + info.Proxy
	scope, _ := proxy.NewScope(nil, false)
	w.Bypasses = scope.Bypasses
	for _, line := range diffLines(current, launch.Env(current, w), sh) {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stderr, "# wired to aadproxy %d on %s; undo with: aadproxy env --unset\n", info.PID, info.Proxy)
	return nil
}

// diffLines turns the change from before to after into shell lines.
func diffLines(before, after []string, sh shellSyntax) []string {
	b, a := envMapOf(before), envMapOf(after)
	var lines []string
	for _, k := range sortedKeys(a) {
		if v, ok := b[k]; !ok || v != a[k] {
			lines = append(lines, sh.set(k, a[k]))
		}
	}
	for _, k := range sortedKeys(b) {
		if _, ok := a[k]; !ok {
			lines = append(lines, sh.unset(k))
		}
	}
	return lines
}

// unsetLines undoes what env set: the variables aadproxy owns, and its own
// options out of JAVA_TOOL_OPTIONS.
func unsetLines(current []string, sh shellSyntax) []string {
	cur := envMapOf(current)
	var lines []string
	for _, k := range launch.Owned {
		if _, ok := cur[k]; ok {
			lines = append(lines, sh.unset(k))
		}
	}
	if j, ok := cur["JAVA_TOOL_OPTIONS"]; ok {
		if rest := launch.WithoutJavaOptions(j); rest == "" {
			lines = append(lines, sh.unset("JAVA_TOOL_OPTIONS"))
		} else if rest != j {
			lines = append(lines, sh.set("JAVA_TOOL_OPTIONS", rest))
		}
	}
	return lines
}

func envMapOf(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
