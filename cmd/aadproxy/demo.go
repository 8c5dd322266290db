package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/fatih/color"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/demo"
	"github.com/aadproxy/aadproxy/internal/fakests"
	"github.com/aadproxy/aadproxy/internal/runfile"
	"github.com/aadproxy/aadproxy/proxy"
)

type demoOptions struct {
	serve  bool
	listen string
	home   string
	record string
	json   bool
	quiet  bool
	http1  bool
	ui     startOptions // --ui, --no-ui, --open (with --serve)
}

func parseDemo(args []string, stderr io.Writer) (demoOptions, error) {
	var o demoOptions
	fs := newFlagSet("demo", stderr)
	fs.BoolVar(&o.serve, "serve", false, "keep serving after the scenarios so a browser or CLI can be pointed at the fake Entra")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "proxy address with --serve (without it, a free loopback port)")
	fs.StringVar(&o.home, "home", "", "folder for the CA with --serve (default $AADPROXY_HOME or the user config dir)")
	fs.StringVar(&o.record, "record", "", "also record the demo's flows to `FILE.har`")
	fs.BoolVar(&o.json, "json", false, "print JSON lines instead of text")
	fs.BoolVar(&o.quiet, "quiet", false, "print only findings and warnings")
	fs.BoolVar(&o.http1, "http1", false, "keep decrypted connections on HTTP/1.1 (by default a client that offers h2 gets it)")
	uiFlags(fs, &o.ui)
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q", fs.Arg(0))
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return o, usagef("--listen %q: %v", o.listen, err)
	}
	return o, o.ui.validateUI()
}

// demoProxyOptions maps every identity host to the fake STS and lets the
// proxy reach loopback only: the demo never leaves the machine.
func demoProxyOptions(sts *fakests.Server) proxy.Options {
	po := proxy.Default()
	po.MapRemote = map[string]string{}
	for _, h := range proxy.IdentityHosts {
		if h[0] != '*' {
			po.MapRemote[h] = sts.Addr()
		}
	}
	po.UpstreamRoots = append(po.UpstreamRoots, sts.CA().Cert())
	po.Dial = proxy.LoopbackOnly(nil)
	return po
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	o, err := parseDemo(args, stderr)
	if err != nil {
		return err
	}
	sts, err := fakests.New(fakests.Options{})
	if err != nil {
		return err
	}
	if err := sts.Start(); err != nil {
		return fmt.Errorf("start the fake Entra: %w", err)
	}
	defer sts.Close()

	// Without --serve the demo keeps its CA in memory and writes nothing.
	var ca *certs.CA
	listen := "127.0.0.1:0"
	home := ""
	if o.serve {
		if home, err = homeDir(o.home); err != nil {
			return err
		}
		if ca, _, err = certs.LoadOrCreate(home); err != nil {
			return fmt.Errorf("load CA from %s: %w", home, err)
		}
		listen = o.listen
	} else if ca, err = certs.New(certs.Options{CommonName: "aadproxy demo CA"}); err != nil {
		return err
	}
	// The inspector is for --serve, where a person stays to look.
	so := defaultStartOptions()
	so.listen, so.record, so.json, so.quiet = listen, o.record, o.json, o.quiet
	so.ui, so.noUI, so.open = o.ui.ui, !o.serve || o.ui.noUI, o.ui.open
	po := demoProxyOptions(sts)
	po.HTTP1 = o.http1
	s, err := openSession(so, po, ca, stdout, stderr)
	if err != nil {
		return err
	}
	if s.ui != nil {
		s.ui.announce(stderr, so.open)
	}
	if o.serve {
		// Like start: other commands (run --attach, mcp) find it.
		if err := s.writeRunFile(home, so); err != nil {
			fmt.Fprintf(stderr, "! could not write the run file: %v\n", err)
		}
		defer runfile.Remove(home, os.Getpid())
	}
	addr := s.listener.Addr().String()
	if !o.json {
		fmt.Fprintf(stdout, "aadproxy demo: a fake login.microsoftonline.com on %s, the proxy on %s.\n", sts.Addr(), addr)
		fmt.Fprintf(stdout, "Each scenario below is real HTTPS through the proxy; watch what it flags.\n")
	}
	client := demo.NewClient(proxy.ClientURL(addr), ca.Pool(), sts)
	heading := color.New(color.Bold)
	failed := 0
	for i, sc := range demo.All() {
		if !o.json {
			expect := "expect success"
			if sc.Expect != 0 {
				expect = fmt.Sprintf("expect AADSTS%d", sc.Expect)
			}
			fmt.Fprintf(stdout, "\n%s %s\n", heading.Sprintf("%d. %s", i+1, sc.Title), color.New(color.Faint).Sprintf("(%s)", expect))
		}
		client.Reset(fmt.Sprintf("scenario %d", i+1)) // each scenario is a separate browser
		if err := sc.Run(context.Background(), client); err != nil {
			failed++
			fmt.Fprintf(stderr, "scenario %d failed to run: %v\n", i+1, err)
		}
		s.pipe.Sync()
	}
	if o.serve {
		fmt.Fprintf(stdout, "\nStill serving. Point a client at the proxy; login.microsoftonline.com is the fake:\n"+
			"  chromium --proxy-server=http://%[1]s --ignore-certificate-errors-spki-list=%[2]s 'https://login.microsoftonline.com/%[3]s/oauth2/v2.0/authorize?client_id=%[4]s&response_type=code&redirect_uri=http://localhost&scope=openid'\n"+
			"  curl --proxy http://%[1]s --cacert %[5]s https://login.microsoftonline.com/common/discovery/instance?api-version=1.1\n"+
			"Sign in as %[6]s / %[7]s. Ctrl-C to stop.\n",
			addr, ca.SPKIHash(), fakests.TenantContoso.ID, fakests.AppPublic.ClientID, ca.CertPath(), fakests.UserAlice.UPN, fakests.UserAlice.Password)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		signal.Stop(sig)
	}
	if err := s.close(); err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintf(stdout, "\n%d flows through the proxy. Try `aadproxy explain AADSTS50143`; run `aadproxy` to debug a real app.\n", s.pipe.Count())
	}
	if failed > 0 {
		return fmt.Errorf("%d scenarios could not run", failed)
	}
	return nil
}
