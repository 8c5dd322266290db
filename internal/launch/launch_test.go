package launch

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/proxy"
)

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; dup {
			m[k+" (again)"] = v
		}
		m[k] = v
	}
	return m
}

func TestEnvWiresEveryRuntimeAndKeepsTheRest(t *testing.T) {
	scope, _ := proxy.NewScope(nil, false)
	base := []string{
		"PATH=/usr/bin", "HOME=/home/me",
		"https_proxy=http://corp:3128", "HTTPS_PROXY=http://corp:3128", "Https_Proxy=http://corp:3128",
		"SSL_CERT_FILE=/old/bundle.pem",
		"NO_PROXY=localhost,127.0.0.1,.microsoftonline.com,login.microsoftonline.com,intranet.corp",
		"JAVA_TOOL_OPTIONS=-Xmx512m",
	}
	w := Wiring{ProxyURL: "http://127.0.0.1:4242", Bundle: "/h/ca-bundle.pem", CACert: "/h/ca.pem",
		TrustStore: "/h/ts.p12", TrustStorePassword: "pw", Bypasses: scope.Bypasses}
	env := envMap(Env(base, w))
	for k, want := range map[string]string{
		"PATH": "/usr/bin", "HOME": "/home/me",
		"HTTP_PROXY": w.ProxyURL, "HTTPS_PROXY": w.ProxyURL, "http_proxy": w.ProxyURL, "https_proxy": w.ProxyURL,
		"SSL_CERT_FILE": w.Bundle, "REQUESTS_CA_BUNDLE": w.Bundle, "CURL_CA_BUNDLE": w.Bundle, "GIT_SSL_CAINFO": w.Bundle,
		"AWS_CA_BUNDLE": w.Bundle, "DENO_CERT": w.Bundle, "CARGO_HTTP_CAINFO": w.Bundle,
		"NODE_EXTRA_CA_CERTS": w.CACert, "NODE_USE_ENV_PROXY": "1", "AADPROXY": "1", "AADPROXY_PROXY": w.ProxyURL,
		"NO_PROXY": "localhost,127.0.0.1,intranet.corp",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	for k := range env {
		if strings.HasSuffix(k, "(again)") || k == "Https_Proxy" {
			t.Errorf("%s left in the environment", k)
		}
	}
	j := env["JAVA_TOOL_OPTIONS"]
	for _, want := range []string{"-Xmx512m", "-Dhttps.proxyHost=127.0.0.1", "-Dhttps.proxyPort=4242", "-Dhttp.proxyPort=4242",
		"-Djavax.net.ssl.trustStore=/h/ts.p12", "-Djavax.net.ssl.trustStoreType=PKCS12", "-Djavax.net.ssl.trustStorePassword=pw"} {
		if !strings.Contains(j, want) {
			t.Errorf("JAVA_TOOL_OPTIONS %q lacks %s", j, want)
		}
	}
	// A NO_PROXY of nothing but bypasses disappears.
	if env := envMap(Env([]string{"no_proxy=*"}, w)); env["no_proxy"] != "" {
		t.Errorf("no_proxy=* kept as %q", env["no_proxy"])
	}
}

func TestTrustStoreHoldsTheRootsJavaWillRead(t *testing.T) {
	ca, err := certs.New(certs.Options{CommonName: "truststore test CA"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := certs.New(certs.Options{CommonName: "another root"})
	path := filepath.Join(t.TempDir(), "ts.p12")
	pw, err := WriteTrustStore(path, []*x509.Certificate{other.Cert(), ca.Cert()})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pkcs12.DecodeTrustStore(data, pw)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[1].Equal(ca.Cert()) {
		t.Errorf("trust store holds %d certificates", len(got))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("trust store mode %v", st.Mode().Perm())
	}
	if _, err := pkcs12.DecodeTrustStore(data, "wrong"); err == nil {
		t.Errorf("the trust store opens with any password")
	}
}
