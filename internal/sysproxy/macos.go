package sysproxy

import (
	"fmt"
	"strconv"
	"strings"
)

// MacSettings is macOS's proxy setting, one per network service (Wi-Fi,
// Ethernet, …), changed with networksetup for every enabled service, so the
// setting holds whichever network the Mac moves to. For each service
// aadproxy sets the web (HTTP) and secure web (HTTPS) proxy and trims the
// bypass domains; the user's own proxy server, port and on/off state are
// saved and put back. No admin rights are needed for an admin user; macOS
// may ask others for a password.
type MacSettings struct {
	Networksetup string // the networksetup program
	Run          Runner
}

// Key suffixes: a key is "<service>: <suffix>".
const (
	macBypass    = "bypass domains"
	macWeb       = "web proxy"
	macSecureWeb = "secure web proxy"
)

func (m MacSettings) ID() string   { return "networksetup" }
func (m MacSettings) Name() string { return "macOS network services' proxies (networksetup)" }

func (m MacSettings) ns(args ...string) ([]byte, error) {
	out, err := m.Run(nil, append([]string{m.Networksetup}, args...)...)
	if err != nil {
		return out, err
	}
	// networksetup reports some failures on standard output with exit
	// status 0.
	if s := string(out); strings.Contains(s, "** Error") || strings.Contains(s, "is not a recognized network service") {
		return out, fmt.Errorf("networksetup %s: %s", CommandLine(args), strings.TrimSpace(s))
	}
	return out, nil
}

// Keys lists, for each enabled network service, its bypass domains, web
// proxy and secure web proxy.
func (m MacSettings) Keys() ([]string, error) {
	out, err := m.ns("-listallnetworkservices")
	if err != nil {
		return nil, err
	}
	services := parseMacServices(out)
	if len(services) == 0 {
		return nil, fmt.Errorf("networksetup -listallnetworkservices lists no enabled network service")
	}
	var keys []string
	for _, s := range services {
		keys = append(keys, s+": "+macBypass, s+": "+macWeb, s+": "+macSecureWeb)
	}
	return keys, nil
}

// parseMacServices reads -listallnetworkservices: a header line, then one
// service a line, a disabled one marked with a leading asterisk.
func parseMacServices(out []byte) []string {
	var services []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "*") || strings.HasPrefix(line, "An asterisk") {
			continue
		}
		services = append(services, line)
	}
	return services
}

func splitMacKey(key string) (service, what string, err error) {
	for _, w := range []string{macSecureWeb, macWeb, macBypass} {
		if s, ok := strings.CutSuffix(key, ": "+w); ok {
			return s, w, nil
		}
	}
	return "", "", fmt.Errorf("not a networksetup setting: %q", key)
}

func (m MacSettings) Read(key string) (Value, error) {
	service, what, err := splitMacKey(key)
	if err != nil {
		return Value{}, err
	}
	switch what {
	case macBypass:
		out, err := m.ns("-getproxybypassdomains", service)
		if err != nil {
			return Value{}, err
		}
		return Value{Text: strings.Join(parseMacBypass(out), " ")}, nil
	default:
		verb := "-getwebproxy"
		if what == macSecureWeb {
			verb = "-getsecurewebproxy"
		}
		out, err := m.ns(verb, service)
		if err != nil {
			return Value{}, err
		}
		p, err := parseMacProxy(out)
		if err != nil {
			return Value{}, fmt.Errorf("networksetup %s %s: %w", verb, service, err)
		}
		return Value{Text: p.String()}, nil
	}
}

// parseMacBypass reads -getproxybypassdomains: one domain a line, or a
// sentence saying there are none.
func parseMacBypass(out []byte) []string {
	var domains []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "There aren't any") || strings.Contains(line, " ") {
			continue
		}
		domains = append(domains, line)
	}
	return domains
}

// macProxy is one of a service's proxies.
type macProxy struct {
	On     bool
	Server string
	Port   int
	// Auth is "Authenticated Proxy Enabled: 1". aadproxy cannot read the
	// password (it is in the keychain) and does not write it back.
	Auth bool
}

// String is the proxy as a Value's text: "on proxy.corp:3128",
// "off :0", "on proxy.corp:3128 authenticated".
func (p macProxy) String() string {
	s := "off"
	if p.On {
		s = "on"
	}
	s += " " + p.Server + ":" + strconv.Itoa(p.Port)
	if p.Auth {
		s += " authenticated"
	}
	return s
}

func parseMacProxyText(text string) (macProxy, error) {
	var p macProxy
	fields := strings.Fields(text)
	if len(fields) < 2 || fields[0] != "on" && fields[0] != "off" {
		return p, fmt.Errorf("not a proxy state: %q", text)
	}
	p.On = fields[0] == "on"
	i := strings.LastIndexByte(fields[1], ':')
	if i < 0 {
		return p, fmt.Errorf("not a proxy state: %q", text)
	}
	p.Server = fields[1][:i]
	port, err := strconv.Atoi(fields[1][i+1:])
	if err != nil {
		return p, fmt.Errorf("not a proxy state: %q", text)
	}
	p.Port = port
	p.Auth = len(fields) > 2 && fields[2] == "authenticated"
	return p, nil
}

// parseMacProxy reads -getwebproxy and -getsecurewebproxy:
//
//	Enabled: No
//	Server: proxy.corp
//	Port: 3128
//	Authenticated Proxy Enabled: 0
func parseMacProxy(out []byte) (macProxy, error) {
	var p macProxy
	seen := 0
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "Enabled":
			p.On = strings.EqualFold(v, "Yes")
			seen++
		case "Server":
			p.Server = v
			seen++
		case "Port":
			n, err := strconv.Atoi(v)
			if err != nil {
				return p, fmt.Errorf("port %q", v)
			}
			p.Port = n
			seen++
		case "Authenticated Proxy Enabled":
			p.Auth = v == "1"
		}
	}
	if seen < 3 {
		return p, fmt.Errorf("unexpected output: %q", strings.TrimSpace(string(out)))
	}
	return p, nil
}

func (m MacSettings) Want(key string, before Value, t Target) Value {
	_, what, err := splitMacKey(key)
	if err != nil {
		return before
	}
	if what != macBypass {
		return Value{Text: macProxy{On: true, Server: t.Host, Port: t.Port}.String()}
	}
	domains := strings.Fields(before.Text)
	var keep []string
	for _, d := range domains {
		if !t.bypasses(d) {
			keep = append(keep, d)
		}
	}
	if len(keep) == len(domains) {
		return before
	}
	return Value{Text: strings.Join(keep, " ")}
}

func (m MacSettings) Write(key string, v Value) error {
	service, what, err := splitMacKey(key)
	if err != nil {
		return err
	}
	cmds, err := macWriteCommands(service, what, v)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	for _, args := range cmds {
		if _, err := m.ns(args...); err != nil {
			return err
		}
	}
	return nil
}

// macWriteCommands are the networksetup arguments that set a service's
// setting to v. A proxy that was off is written back with its server and
// port, then switched off; one with no server is only switched off
// (networksetup takes no empty server), so it keeps aadproxy's address,
// unused.
func macWriteCommands(service, what string, v Value) ([][]string, error) {
	if what == macBypass {
		domains := strings.Fields(v.Text)
		if len(domains) == 0 {
			domains = []string{"Empty"} // networksetup's word for none
		}
		return [][]string{append([]string{"-setproxybypassdomains", service}, domains...)}, nil
	}
	set, state := "-setwebproxy", "-setwebproxystate"
	if what == macSecureWeb {
		set, state = "-setsecurewebproxy", "-setsecurewebproxystate"
	}
	p, err := parseMacProxyText(v.Text)
	if err != nil {
		return nil, err
	}
	if p.On && p.Server == "" {
		return nil, fmt.Errorf("a proxy switched on needs a server: %q", v.Text)
	}
	var cmds [][]string
	if p.Server != "" {
		cmds = append(cmds, []string{set, service, p.Server, strconv.Itoa(p.Port)})
	}
	if !p.On {
		cmds = append(cmds, []string{state, service, "off"})
	}
	return cmds, nil
}

func (m MacSettings) Notify() error { return nil }
