// Command aadproxy is a local MITM debugging proxy for Microsoft Entra ID
// sign-in flows. Each subcommand lives in its own file with an options
// struct, so flag parsing and behaviour are tested apart.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// Exit codes, documented in the README.
const (
	exitOK       = 0 // success; for analyze: no error-level finding
	exitFindings = 1 // analyze: at least one error-level finding; other commands: failure
	exitBadInput = 2 // bad usage, or analyze's input is unreadable or damaged
)

const version = "0.1.0"

func main() {
	// AADPROXY_CPUPROFILE=FILE writes a CPU profile of the whole run, for
	// the load benchmark (internal/loadbench); stop the proxy with SIGTERM.
	if path := os.Getenv("AADPROXY_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			code := run(os.Args[1:], os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "start"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "start":
		err = runStart(args, stdout, stderr)
	case "run":
		return runRun(args, stdout, stderr)
	case "demo":
		err = runDemo(args, stdout, stderr)
	case "ca":
		err = runCA(args, stdout, stderr)
	case "analyze":
		return runAnalyze(args, stdout, stderr)
	case "ui":
		err = runUI(args, stdout, stderr)
	case "browser":
		err = runBrowser(args, stdout, stderr)
	case "env":
		err = runEnv(args, stdout, stderr)
	case "mcp":
		err = runMCP(args, os.Stdin, stdout, stderr)
	case "explain":
		err = runExplain(args, stdout, stderr)
	case "sanitize":
		err = runSanitize(args, stdout, stderr)
	case "convert":
		err = runConvert(args, stdout, stderr)
	case "bundle":
		err = runBundle(args, stdout, stderr)
	case "system-proxy":
		err = runSystemProxy(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "aadproxy", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "aadproxy: unknown command %q\n\n%s", cmd, usage)
		return exitBadInput
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "aadproxy %s: %v\n%s", cmd, err, usageHint(cmd))
			return exitBadInput
		}
		fmt.Fprintf(stderr, "aadproxy %s: %v\n", cmd, err)
		return exitFindings
	}
	return exitOK
}

// usageHint points at a command's flags after a usage error.
func usageHint(cmd string) string {
	if cmd == "ca" {
		return "Run 'aadproxy ca SUBCOMMAND -h' for its flags (subcommands: " + caSubcommands + ").\n"
	}
	return fmt.Sprintf("Run 'aadproxy %s -h' for its flags.\n", cmd)
}

// errHelp is returned when -h was asked for.
var errHelp = flag.ErrHelp

// usageError marks a mistake in the command line (exit 2).
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

const usage = `aadproxy: a local MITM proxy that explains Microsoft Entra ID sign-in failures

Usage:
  aadproxy [start] [flags]      run the proxy (default 127.0.0.1:8080) and its web inspector (127.0.0.1:8081)
  aadproxy demo [--serve]       see it work against a built-in fake Entra (no tenant needed)
  aadproxy run [flags] -- CMD   run CMD (az, python, node, java, curl…) wired to a proxy of its own; exits with CMD's status
  aadproxy env [--shell S]      print the settings that wire this shell to the running proxy: eval "$(aadproxy env)"
  aadproxy browser [URL]        a browser with a fresh profile on the proxy (chromium, chrome, edge, brave, firefox)
  aadproxy analyze FILE.har     run the rules over a recorded or exported trace
  aadproxy ui FILE.har          look at a HAR or SAZ in the web inspector (offline)
  aadproxy mcp [--from FILE]    an MCP server (stdio) for coding assistants: the running proxy or a trace, sanitized
  aadproxy explain AADSTS50143  what a code means and how to fix it
  aadproxy sanitize IN -o OUT   remove secrets from a HAR or SAZ, keep what support needs
  aadproxy sanitize --check F   list secret-looking values left in a trace (exit 1 if any)
  aadproxy bundle --from F|--last   one zip for a support ticket: sanitized trace + report
  aadproxy convert IN OUT       between SAZ and HAR
  aadproxy ca path|show|export [--der]|regenerate [--constrain]|install|uninstall|status
  aadproxy system-proxy status|restore   what start --system-proxy changed; put back what a crash left
  aadproxy version

Run 'aadproxy COMMAND -h' for a command's flags.
`

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// flagSet wraps flag.FlagSet so option builders can return it.
type flagSet struct{ *flag.FlagSet }

// newFlagSet returns a FlagSet that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("aadproxy "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses flags wherever they stand among the arguments
// (`aadproxy sanitize in.har -o out.har` as well as `-o out.har in.har`),
// stopping at "--", and wraps errors as usage errors. The positional
// arguments are left in fs.Args.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := parseOnce(fs, args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Re-parse nothing but the positional arguments so fs.Args returns them.
	return fs.Parse(append([]string{"--"}, positional...))
}

// parseOnce is fs.Parse that prints the flags only when they were asked
// for (-h). The flag package prints a bad flag's error and the whole usage
// text itself, and run prints the error again: a mistake is said once, by
// run, as a usage error (exit 2).
func parseOnce(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		out.Write(buf.Bytes())
		return err
	default:
		return usageError{err}
	}
}
