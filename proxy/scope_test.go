package proxy

import "testing"

func TestScopeDecide(t *testing.T) {
	def, err := NewScope(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := NewScope([]string{"app.contoso.com", "*.graph.microsoft.com", "device.login.microsoftonline.com"}, false)
	if err != nil {
		t.Fatal(err)
	}
	all, err := NewScope(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		scope *Scope
		host  string
		want  Decision
		why   bool
	}{
		{"identity host", def, "login.microsoftonline.com:443", Intercept, false},
		{"identity host upper case, trailing dot", def, "LOGIN.microsoftonline.com.", Intercept, false},
		{"regional", def, "westus2.login.microsoft.com", Intercept, false},
		{"b2c", def, "contoso.b2clogin.com:443", Intercept, false},
		{"b2c bare domain is not a tenant", def, "b2clogin.com", Tunnel, false},
		{"other host tunnelled", def, "www.example.com:443", Tunnel, false},
		{"lookalike suffix tunnelled", def, "evillogin.microsoftonline.com", Tunnel, false},
		{"device host tunnelled", def, "device.login.microsoftonline.com:443", Tunnel, true},
		{"certauth wildcard tunnelled", def, "t1.certauth.login.microsoftonline.com", Tunnel, true},
		{"enterprise registration tunnelled", def, "enterpriseregistration.windows.net", Tunnel, true},
		{"gov device tunnelled", def, "device.login.microsoftonline.us", Tunnel, true},
		{"intercept-all decrypts others", all, "www.example.com", Intercept, false},
		{"intercept-all still tunnels device", all, "device.login.microsoftonline.com", Tunnel, true},
		{"extra exact host", extra, "app.contoso.com:8443", Intercept, false},
		{"extra wildcard", extra, "eu.graph.microsoft.com", Intercept, false},
		{"named client-cert host is decrypted", extra, "device.login.microsoftonline.com", Intercept, false},
		{"unnamed client-cert host still tunnelled", extra, "certauth.login.microsoftonline.com", Tunnel, true},
		{"ipv6 literal", def, "[::1]:443", Tunnel, false},
	}
	for _, tt := range tests {
		got, why := tt.scope.Decide(tt.host)
		if got != tt.want || (why != "") != tt.why {
			t.Errorf("%s: Decide(%q) = %v, %q; want %v, reason given %v", tt.name, tt.host, got, why, tt.want, tt.why)
		}
	}
}

func TestScopeRejectsBadPatterns(t *testing.T) {
	for _, p := range []string{"*", "", "a[b"} {
		if _, err := NewScope([]string{p}, false); err == nil {
			t.Errorf("NewScope([%q]): got nil error, want one", p)
		}
	}
}

func TestExplicitClientCertHosts(t *testing.T) {
	s, _ := NewScope([]string{"device.login.microsoftonline.com", "app.contoso.com"}, false)
	got := s.ExplicitClientCertHosts()
	if len(got) != 1 || got[0] != "device.login.microsoftonline.com" {
		t.Errorf("ExplicitClientCertHosts() = %v, want [device.login.microsoftonline.com]", got)
	}
}

func TestNoProxyEntriesThatBypassTheScope(t *testing.T) {
	s, err := NewScope([]string{"graph.microsoft.com"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for entry, want := range map[string]bool{
		"*":                         true,
		"login.microsoftonline.com": true,
		".microsoftonline.com":      true,
		"microsoftonline.com":       true,
		"*.microsoftonline.com":     true,
		"contoso.b2clogin.com":      true, // under *.b2clogin.com
		"b2clogin.com":              true,
		"graph.microsoft.com":       true, // --intercept
		".microsoft.com":            true, // parent of login.microsoft.com
		"example.com":               false,
		"localhost":                 false,
		"127.0.0.1":                 false,
		"10.0.0.0/8":                false,
		"internal.corp":             false,
		"":                          false,
	} {
		if got := s.Bypasses(entry); got != want {
			t.Errorf("Bypasses(%q) = %v, want %v", entry, got, want)
		}
	}
	all, _ := NewScope(nil, true)
	if !all.Bypasses("example.com") || all.Bypasses("localhost") {
		t.Errorf("with --intercept-all every name but loopback bypasses")
	}
}
