package sysproxy

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeNetworksetup answers like macOS's networksetup (its output copied
// from macOS 14), keeping each service's proxies, and logs the commands
// that change something.
type fakeNetworksetup struct {
	services []string // as listed: a leading * marks a disabled one
	web      map[string]macProxy
	secure   map[string]macProxy
	bypass   map[string][]string
	log      []string
}

func (f *fakeNetworksetup) known(s string) bool {
	return slices.Contains(f.services, s) || slices.Contains(f.services, "*"+s)
}

func (f *fakeNetworksetup) run(env []string, args ...string) ([]byte, error) {
	if args[0] != "/usr/sbin/networksetup" {
		return nil, fmt.Errorf("unexpected %s", args[0])
	}
	verb, rest := args[1], args[2:]
	if verb == "-listallnetworkservices" {
		return []byte("An asterisk (*) denotes that a network service is disabled.\n" + strings.Join(f.services, "\n") + "\n"), nil
	}
	if !f.known(rest[0]) {
		return []byte(rest[0] + " is not a recognized network service.\n** Error: The parameters were not valid.\n"), nil
	}
	svc := rest[0]
	show := func(p macProxy) []byte {
		on := "No"
		if p.On {
			on = "Yes"
		}
		auth := 0
		if p.Auth {
			auth = 1
		}
		return []byte(fmt.Sprintf("Enabled: %s\nServer: %s\nPort: %d\nAuthenticated Proxy Enabled: %d\n", on, p.Server, p.Port, auth))
	}
	if strings.HasPrefix(verb, "-set") {
		f.log = append(f.log, CommandLine(args[1:]))
	}
	switch verb {
	case "-getwebproxy":
		return show(f.web[svc]), nil
	case "-getsecurewebproxy":
		return show(f.secure[svc]), nil
	case "-getproxybypassdomains":
		if len(f.bypass[svc]) == 0 {
			return []byte("There aren't any bypass domains set on " + svc + ".\n"), nil
		}
		return []byte(strings.Join(f.bypass[svc], "\n") + "\n"), nil
	case "-setwebproxy", "-setsecurewebproxy":
		port, _ := strconv.Atoi(rest[2])
		m := f.web
		if verb == "-setsecurewebproxy" {
			m = f.secure
		}
		m[svc] = macProxy{On: true, Server: rest[1], Port: port}
	case "-setwebproxystate", "-setsecurewebproxystate":
		m := f.web
		if verb == "-setsecurewebproxystate" {
			m = f.secure
		}
		p := m[svc]
		p.On = rest[1] == "on"
		m[svc] = p
	case "-setproxybypassdomains":
		if rest[1] == "Empty" {
			f.bypass[svc] = nil
		} else {
			f.bypass[svc] = rest[1:]
		}
	default:
		return nil, fmt.Errorf("unexpected %s", verb)
	}
	return nil, nil
}

func TestMacParsesNetworksetup(t *testing.T) {
	got := parseMacServices([]byte("An asterisk (*) denotes that a network service is disabled.\nWi-Fi\n*Bluetooth PAN\nUSB 10/100/1000 LAN\nThunderbolt Bridge\n"))
	if want := []string{"Wi-Fi", "USB 10/100/1000 LAN", "Thunderbolt Bridge"}; !reflect.DeepEqual(got, want) {
		t.Errorf("parseMacServices: got %q, want %q", got, want)
	}
	p, err := parseMacProxy([]byte("Enabled: Yes\nServer: proxy.corp\nPort: 3128\nAuthenticated Proxy Enabled: 1\n"))
	if err != nil || p != (macProxy{On: true, Server: "proxy.corp", Port: 3128, Auth: true}) {
		t.Errorf("parseMacProxy: got %+v, %v", p, err)
	}
	if p.String() != "on proxy.corp:3128 authenticated" {
		t.Errorf("macProxy.String: %s", p)
	}
	if back, err := parseMacProxyText(p.String()); err != nil || back != p {
		t.Errorf("parseMacProxyText(%q) = %+v, %v", p, back, err)
	}
	if _, err := parseMacProxy([]byte("Wi-Fi is not a recognized network service.\n")); err == nil {
		t.Error("parseMacProxy accepted an error message")
	}
	if got := parseMacBypass([]byte("There aren't any bypass domains set on Wi-Fi.\n")); len(got) != 0 {
		t.Errorf("parseMacBypass(none): %q", got)
	}
	if got := parseMacBypass([]byte("*.local\n169.254/16\n")); !reflect.DeepEqual(got, []string{"*.local", "169.254/16"}) {
		t.Errorf("parseMacBypass: %q", got)
	}
}

func TestMacPointsEachEnabledServiceAtTheProxyAndRestoresIt(t *testing.T) {
	f := &fakeNetworksetup{
		services: []string{"Wi-Fi", "*Bluetooth PAN", "USB LAN"},
		web:      map[string]macProxy{"Wi-Fi": {On: true, Server: "proxy.corp", Port: 3128}, "USB LAN": {}},
		secure:   map[string]macProxy{"Wi-Fi": {On: false, Server: "proxy.corp", Port: 3129}, "USB LAN": {}},
		bypass: map[string][]string{
			"Wi-Fi":   {"*.local", "169.254/16", "login.microsoftonline.com"},
			"USB LAN": nil,
		},
	}
	before := fmt.Sprint(f.web, f.secure, f.bypass)
	m := MacSettings{Networksetup: "/usr/sbin/networksetup", Run: f.run}
	plan, err := Plan(m, gnomeTarget(t))
	if err != nil {
		t.Fatal(err)
	}
	applied, err := Apply(m, plan)
	if err != nil {
		t.Fatal(err)
	}
	wantSet := []string{
		"-setproxybypassdomains Wi-Fi '*.local' 169.254/16",
		"-setwebproxy Wi-Fi 127.0.0.1 18080",
		"-setsecurewebproxy Wi-Fi 127.0.0.1 18080",
		"-setwebproxy 'USB LAN' 127.0.0.1 18080",
		"-setsecurewebproxy 'USB LAN' 127.0.0.1 18080",
	}
	if !reflect.DeepEqual(f.log, wantSet) {
		t.Errorf("commands to set:\n%s\nwant\n%s", strings.Join(f.log, "\n"), strings.Join(wantSet, "\n"))
	}
	f.log = nil
	if _, err := Restore(m, applied); err != nil {
		t.Fatal(err)
	}
	wantRestore := []string{
		"-setsecurewebproxystate 'USB LAN' off",
		"-setwebproxystate 'USB LAN' off",
		"-setsecurewebproxy Wi-Fi proxy.corp 3129",
		"-setsecurewebproxystate Wi-Fi off",
		"-setwebproxy Wi-Fi proxy.corp 3128",
		"-setproxybypassdomains Wi-Fi '*.local' 169.254/16 login.microsoftonline.com",
	}
	if !reflect.DeepEqual(f.log, wantRestore) {
		t.Errorf("commands to restore:\n%s\nwant\n%s", strings.Join(f.log, "\n"), strings.Join(wantRestore, "\n"))
	}
	// A service with no proxy server of its own keeps aadproxy's address,
	// switched off: networksetup takes no empty server.
	f.web["USB LAN"], f.secure["USB LAN"] = macProxy{}, macProxy{}
	if after := fmt.Sprint(f.web, f.secure, f.bypass); after != before {
		t.Errorf("after restore:\n%s\nwant\n%s", after, before)
	}
}

func TestMacReportsErrorsPrintedWithExitStatusZero(t *testing.T) {
	f := &fakeNetworksetup{services: []string{"Wi-Fi"}, web: map[string]macProxy{}, secure: map[string]macProxy{}, bypass: map[string][]string{}}
	m := MacSettings{Networksetup: "/usr/sbin/networksetup", Run: f.run}
	if _, err := m.Read("Ethernet: web proxy"); err == nil || !strings.Contains(err.Error(), "not a recognized network service") {
		t.Errorf("Read of an unknown service: %v", err)
	}
	f.services = []string{"*Wi-Fi"}
	if _, err := m.Keys(); err == nil {
		t.Error("Keys with every service disabled: no error")
	}
}
