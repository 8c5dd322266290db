package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/aadproxy/aadproxy/internal/runfile"
	"github.com/aadproxy/aadproxy/internal/sysproxy"
	"github.com/aadproxy/aadproxy/proxy"
)

// detectSystemProxy finds this system's proxy setting; a variable so tests
// can give a fake.
var detectSystemProxy = func() (sysproxy.Settings, error) {
	return sysproxy.Detect(sysproxy.DefaultEnv(runtime.GOOS))
}

// systemProxy is `start --system-proxy` at work: the OS's proxy setting
// points at this process until restore.
type systemProxy struct {
	settings sysproxy.Settings
	state    sysproxy.State
	home     string
	once     sync.Once
}

// notifyHangup makes a closed terminal (SIGHUP) stop start like Ctrl-C,
// so the recording is closed and a system proxy setting put back — unless
// SIGHUP is ignored (nohup), which Notify would undo. It runs before the
// setting changes, so no hangup can slip in between. Windows delivers a
// closed console window as SIGTERM, which start already handles.
func notifyHangup(sig chan<- os.Signal) {
	if runtime.GOOS != "windows" && !signal.Ignored(syscall.SIGHUP) {
		signal.Notify(sig, syscall.SIGHUP)
	}
}

// ownerAlive reports whether the aadproxy that saved the setting still
// runs. After a reboot this process may have been given that pid itself:
// then the owner is gone.
func ownerAlive(pid int) bool { return pid != os.Getpid() && runfile.Alive(pid) }

// recoverSystemProxy puts back the setting an aadproxy that is gone (a
// crash, kill -9, a power cut) left pointing at itself, and says so. Every
// start calls it, with --system-proxy or not.
func recoverSystemProxy(home string, w io.Writer) {
	st, err := sysproxy.LoadState(home)
	if err != nil {
		fmt.Fprintf(w, "! system proxy: %v\n", err)
		return
	}
	if st == nil || ownerAlive(st.PID) {
		return
	}
	fmt.Fprintf(w, "system proxy: aadproxy %d pointed it at %s on %s and stopped without putting it back; restoring it now\n",
		st.PID, st.Proxy, st.Time.Local().Format("2006-01-02 15:04"))
	restoreSaved(home, *st, w)
}

// restoreSaved restores a saved state with this system's settings and
// removes the state when everything went back.
func restoreSaved(home string, st sysproxy.State, w io.Writer) error {
	settings, err := detectSystemProxy()
	if err == nil && settings.ID() != st.Backend {
		err = fmt.Errorf("the saved settings are %s's, and this system's are %s's", st.Name, settings.Name())
	}
	if err != nil {
		fmt.Fprintf(w, "! system proxy: cannot restore it here: %v\n  (saved in %s; `aadproxy system-proxy restore` tries again)\n", err, filepath.Join(home, sysproxy.StateFile))
		return err
	}
	res, err := sysproxy.Restore(settings, st.Changes)
	reportRestore(w, settings, res, err)
	if err != nil {
		fmt.Fprintf(w, "  the saved settings stay in %s: `aadproxy system-proxy restore` tries again\n", filepath.Join(home, sysproxy.StateFile))
		return err
	}
	if err := sysproxy.RemoveState(home); err != nil {
		fmt.Fprintf(w, "! system proxy: %v\n", err)
	}
	return nil
}

func reportRestore(w io.Writer, s sysproxy.Settings, res sysproxy.Result, err error) {
	switch {
	case err != nil:
		fmt.Fprintf(w, "! system proxy: could not restore all of %s: %v\n", s.Name(), err)
	case len(res.Restored) > 0:
		fmt.Fprintf(w, "system proxy: restored %s as it was\n", s.Name())
	}
	for _, k := range res.Kept {
		fmt.Fprintf(w, "  left %s as %s: it changed while aadproxy ran (aadproxy had set %s; before, it was %s)\n", k.Key, k.Now, k.After, k.Before)
	}
}

// startSystemProxy points the system proxy at addr for --system-proxy. It
// never stops the proxy from running: when the setting cannot be changed
// it says why, and the lines to point a client at the proxy by hand (the
// banner) still work. The state is saved before anything changes, so a
// crash at any point is repaired by the next start.
func startSystemProxy(home string, o startOptions, addr string, w io.Writer) *systemProxy {
	if !o.systemProxy {
		return nil
	}
	warn := func(format string, a ...any) *systemProxy {
		fmt.Fprintf(w, "! --system-proxy: "+format+"\n", a...)
		fmt.Fprintf(w, "  the proxy runs; point clients at it yourself (above)\n")
		return nil
	}
	switch st, err := sysproxy.LoadState(home); {
	case err != nil:
		return warn("%v", err)
	case st != nil && ownerAlive(st.PID):
		return warn("aadproxy %d already points the system proxy at %s; this one leaves it alone", st.PID, st.Proxy)
	case st != nil:
		return warn("the setting saved in %s is not restored yet; this one leaves it alone (`aadproxy system-proxy restore`)", filepath.Join(home, sysproxy.StateFile))
	}
	settings, err := detectSystemProxy()
	if err != nil {
		return warn("%v", err)
	}
	scope, err := proxy.NewScope(o.intercept, o.interceptAll)
	if err != nil {
		return warn("%v", err)
	}
	target, err := sysproxy.TargetFor(addr, scope.Bypasses)
	if err != nil {
		return warn("proxy address %s: %v", addr, err)
	}
	changes, err := sysproxy.Plan(settings, target)
	if err != nil {
		return warn("read %s: %v", settings.Name(), err)
	}
	if len(changes) == 0 {
		fmt.Fprintf(w, "system proxy: %s already points at %s; aadproxy changes nothing\n", settings.Name(), target.HostPort())
		return nil
	}
	sp := &systemProxy{settings: settings, home: home, state: sysproxy.State{
		PID: os.Getpid(), Backend: settings.ID(), Name: settings.Name(), Proxy: target.HostPort(),
		Time: time.Now().UTC().Truncate(time.Second), Changes: changes,
	}}
	if err := ensurePrivateDir(home); err != nil {
		return warn("%v", err)
	}
	if err := sp.state.Save(home); err != nil {
		return warn("could not save the current setting, so aadproxy does not change it: %v", err)
	}
	applied, err := sysproxy.Apply(settings, changes)
	if err != nil {
		// Apply has put back what it changed; make sure before
		// forgetting the saved state.
		if _, rerr := sysproxy.Restore(settings, changes); rerr == nil {
			sysproxy.RemoveState(home)
		}
		return warn("could not change %s: %v", settings.Name(), err)
	}
	sp.state.Changes = applied
	if err := sp.state.Save(home); err != nil {
		fmt.Fprintf(w, "! system proxy: %v\n", err)
	}
	fmt.Fprintf(w, "system proxy: %s now points at %s — restored when aadproxy stops (saved in %s)\n",
		settings.Name(), target.HostPort(), filepath.Join(home, sysproxy.StateFile))
	for _, c := range applied {
		fmt.Fprintf(w, "  %s: %s → %s\n", c.Key, c.Before, c.After)
	}
	fmt.Fprintf(w, "  browsers and apps must trust aadproxy's CA to sign in through it: `aadproxy ca install` (`aadproxy ca status` says where it is trusted)\n")
	return sp
}

// restore puts the setting back, once; nil does nothing.
func (sp *systemProxy) restore(w io.Writer) {
	if sp == nil {
		return
	}
	sp.once.Do(func() {
		res, err := sysproxy.Restore(sp.settings, sp.state.Changes)
		reportRestore(w, sp.settings, res, err)
		if err != nil {
			fmt.Fprintf(w, "  the saved settings stay in %s: the next `aadproxy start` or `aadproxy system-proxy restore` tries again\n",
				filepath.Join(sp.home, sysproxy.StateFile))
			return
		}
		if err := sysproxy.RemoveState(sp.home); err != nil {
			fmt.Fprintf(w, "! system proxy: %v\n", err)
		}
	})
}

// systemProxyOptions are the flags of `aadproxy system-proxy`.
type systemProxyOptions struct {
	action string // status, restore
	home   string
	force  bool
}

func parseSystemProxy(args []string, stderr io.Writer) (systemProxyOptions, error) {
	var o systemProxyOptions
	fs := newFlagSet("system-proxy", stderr)
	fs.StringVar(&o.home, "home", "", "aadproxy's folder (default $AADPROXY_HOME or the user config dir + /aadproxy)")
	fs.BoolVar(&o.force, "force", false, "restore even though the aadproxy that changed the setting seems to run (its pid was reused)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: aadproxy system-proxy status|restore [--home DIR] [--force]\n\n"+
			"status shows this system's proxy setting and what aadproxy saved of it; restore puts back\n"+
			"what a `start --system-proxy` that did not stop cleanly left pointing at it.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "status" && fs.Arg(0) != "restore" {
		return o, usagef("want status or restore")
	}
	o.action = fs.Arg(0)
	return o, nil
}

// runSystemProxy is `aadproxy system-proxy status|restore`.
func runSystemProxy(args []string, stdout, stderr io.Writer) error {
	o, err := parseSystemProxy(args, stderr)
	if err != nil {
		return err
	}
	home, err := homeDir(o.home)
	if err != nil {
		return err
	}
	st, err := sysproxy.LoadState(home)
	if err != nil {
		return err
	}
	if o.action == "status" {
		return systemProxyStatus(st, stdout)
	}
	if st == nil {
		fmt.Fprintf(stdout, "nothing to restore: no aadproxy changed the system proxy (no %s)\n", filepath.Join(home, sysproxy.StateFile))
		return nil
	}
	if runfile.Alive(st.PID) && st.PID != os.Getpid() && !o.force {
		return fmt.Errorf("aadproxy %d is running and puts the system proxy back when it stops; stop it, or use --force if that pid is another program now", st.PID)
	}
	fmt.Fprintf(stdout, "aadproxy %d pointed the system proxy at %s on %s\n", st.PID, st.Proxy, st.Time.Local().Format("2006-01-02 15:04"))
	if err := restoreSaved(home, *st, stdout); err != nil {
		return errors.New("the system proxy is not fully restored (see above)")
	}
	return nil
}

func systemProxyStatus(st *sysproxy.State, w io.Writer) error {
	settings, err := detectSystemProxy()
	if err != nil {
		fmt.Fprintf(w, "this system: %v\n", err)
	} else {
		fmt.Fprintf(w, "this system: %s\n", settings.Name())
		keys, err := settings.Keys()
		if err != nil {
			return err
		}
		for _, k := range keys {
			v, err := settings.Read(k)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	if st == nil {
		fmt.Fprintln(w, "no aadproxy has it pointed at itself")
		return nil
	}
	state := "running: it restores the setting when it stops"
	if !runfile.Alive(st.PID) {
		state = "gone: `aadproxy system-proxy restore` (or the next `aadproxy start`) puts it back"
	}
	fmt.Fprintf(w, "aadproxy %d pointed it at %s on %s (%s); it was:\n", st.PID, st.Proxy, st.Time.Local().Format("2006-01-02 15:04"), state)
	for _, c := range st.Changes {
		fmt.Fprintf(w, "  %s: %s\n", c.Key, c.Before)
	}
	return nil
}
