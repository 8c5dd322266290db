// Package launch wires a client's environment to a running aadproxy: the
// proxy variables every runtime reads, the trust settings each one needs
// (a full bundle where a variable replaces the system roots, the CA alone
// where it adds, a PKCS#12 trust store for Java), and a marker scripts can
// test. It computes; cmd/aadproxy starts the process.
package launch

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Wiring is what a client needs to use the proxy.
type Wiring struct {
	// ProxyURL is "http://127.0.0.1:PORT", never with credentials.
	ProxyURL string
	// Bundle is a PEM file of the system roots plus aadproxy's CA, for the
	// variables that replace the default roots.
	Bundle string
	// CACert is aadproxy's CA alone (PEM), for NODE_EXTRA_CA_CERTS.
	CACert string
	// TrustStore is a PKCS#12 trust store (system roots plus the CA) for
	// Java, opened with TrustStorePassword; "" leaves Java alone.
	TrustStore         string
	TrustStorePassword string
	// Bypasses reports a NO_PROXY entry that would skip the proxy for a
	// host it decrypts (proxy.Scope.Bypasses).
	Bypasses func(entry string) bool
}

// Trust says which file a runtime's variable takes.
type Trust int

const (
	// Bundle is the system roots plus aadproxy's CA: the variable replaces
	// the runtime's default roots, and a CA-only file would break every
	// call that is not intercepted (azure-cli #20921).
	Bundle Trust = iota
	// CAOnly is aadproxy's CA alone: the variable adds to the roots.
	CAOnly
)

// Runtime is a family of clients and the variable that makes it trust
// aadproxy's CA. Env, the banner of `aadproxy start` and `aadproxy env` all
// read Runtimes, so they never disagree.
type Runtime struct {
	Name  string // who reads Var: "curl"
	Var   string // "CURL_CA_BUNDLE"
	Trust Trust
	// Also is what a person may use instead, or must know ("" for
	// nothing); %s is the CA's PEM file.
	Also string
}

// Runtimes lists the runtimes Env wires through a CA variable, in the
// order the banner shows them. Java (a trust store in JAVA_TOOL_OPTIONS)
// and .NET (the system store) read no such variable.
var Runtimes = []Runtime{
	{Name: "Go, OpenSSL, Python ssl, Ruby", Var: "SSL_CERT_FILE", Trust: Bundle},
	{Name: "Python requests, Azure CLI", Var: "REQUESTS_CA_BUNDLE", Trust: Bundle},
	// Debian builds curl with its own CA file, so SSL_CERT_FILE is ignored.
	{Name: "curl", Var: "CURL_CA_BUNDLE", Trust: Bundle, Also: `or curl --cacert "%s"; Debian's curl ignores SSL_CERT_FILE`},
	{Name: "git", Var: "GIT_SSL_CAINFO", Trust: Bundle},
	{Name: "AWS CLI and SDKs", Var: "AWS_CA_BUNDLE", Trust: Bundle},
	{Name: "Deno", Var: "DENO_CERT", Trust: Bundle},
	{Name: "cargo", Var: "CARGO_HTTP_CAINFO", Trust: Bundle},
	{Name: "Node.js", Var: "NODE_EXTRA_CA_CERTS", Trust: CAOnly},
}

// ProxyVars are the proxy variables, in both cases: every runtime reads
// one or the other (curl only the lower-case http_proxy).
var ProxyVars = []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"}

// NodeProxyVar makes Node 22.21+ and 24 route http(s) and fetch (msal-node
// 7 uses fetch) through HTTP(S)_PROXY.
const NodeProxyVar = "NODE_USE_ENV_PROXY"

// Setting is one variable Env sets outright, with who reads it.
type Setting struct {
	Name, Value string
	For         string // the runtimes that read it
	Also        string // what a person may use instead ("" for nothing)
}

// Settings returns the variables Env sets outright for w, in the banner's
// order: the proxy, each runtime's CA variable, then aadproxy's markers.
func Settings(w Wiring) []Setting {
	var out []Setting
	for _, k := range ProxyVars {
		out = append(out, Setting{Name: k, Value: w.ProxyURL, For: "every runtime"})
	}
	for _, r := range Runtimes {
		st := Setting{Name: r.Var, Value: w.Bundle, For: r.Name}
		if r.Trust == CAOnly {
			st.Value = w.CACert
		}
		if r.Also != "" {
			st.Also = fmt.Sprintf(r.Also, w.CACert)
		}
		out = append(out, st)
		if r.Var == "NODE_EXTRA_CA_CERTS" {
			out = append(out, Setting{Name: NodeProxyVar, Value: "1", For: r.Name, Also: "Node ≥ 22.21 uses HTTPS_PROXY only with " + NodeProxyVar + "=1"})
		}
	}
	return append(out,
		Setting{Name: "AADPROXY", Value: "1", For: "scripts"},
		Setting{Name: "AADPROXY_PROXY", Value: w.ProxyURL, For: "scripts"})
}

// Owned lists the variables Env sets outright (JAVA_TOOL_OPTIONS, which
// it extends, and NO_PROXY, which it trims, are not among them).
var Owned = func() []string {
	var out []string
	for _, s := range Settings(Wiring{}) {
		out = append(out, s.Name)
	}
	return out
}()

// WithoutJavaOptions removes the options Env adds from a JAVA_TOOL_OPTIONS
// value, keeping the user's own.
func WithoutJavaOptions(v string) string {
	var kept []string
	for _, f := range strings.Fields(v) {
		if !strings.HasPrefix(f, "-Dhttps.proxy") && !strings.HasPrefix(f, "-Dhttp.proxy") && !strings.HasPrefix(f, "-Djavax.net.ssl.trustStore") {
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, " ")
}

// Env returns base with the wiring applied: every variable it sets
// replaces the one in base (whatever its case), NO_PROXY keeps only
// entries that do not bypass the proxy, and JAVA_TOOL_OPTIONS keeps what
// it held.
func Env(base []string, w Wiring) []string {
	set := map[string]string{}
	for _, st := range Settings(w) {
		set[st.Name] = st.Value
	}

	var out []string
	javaOpts := ""
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case strings.EqualFold(k, "NO_PROXY"):
			if v = stripNoProxy(v, w.Bypasses); v != "" {
				out = append(out, k+"="+v)
			}
			continue
		case k == "JAVA_TOOL_OPTIONS":
			javaOpts = WithoutJavaOptions(v) // a shell already wired keeps one copy
			continue
		}
		if _, ok := set[k]; ok {
			continue
		}
		if _, ok := set[strings.ToUpper(k)]; ok && strings.HasSuffix(strings.ToUpper(k), "_PROXY") {
			continue // HTTPS_Proxy and other casings some tools read
		}
		out = append(out, kv)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+set[k])
	}
	if j := javaOptions(w); j != "" {
		out = append(out, "JAVA_TOOL_OPTIONS="+strings.TrimSpace(javaOpts+" "+j))
	} else if javaOpts != "" {
		out = append(out, "JAVA_TOOL_OPTIONS="+javaOpts)
	}
	return out
}

// stripNoProxy drops the entries that would bypass the proxy for a host it
// decrypts, keeping the rest (loopback, intranet) as the user had them.
func stripNoProxy(v string, bypasses func(string) bool) string {
	if bypasses == nil {
		return v
	}
	var kept []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" && !bypasses(e) {
			kept = append(kept, e)
		}
	}
	return strings.Join(kept, ",")
}

// javaOptions points the JVM at the proxy and the trust store.
func javaOptions(w Wiring) string {
	host, port, err := net.SplitHostPort(strings.TrimPrefix(w.ProxyURL, "http://"))
	if err != nil {
		return ""
	}
	opts := fmt.Sprintf("-Dhttps.proxyHost=%[1]s -Dhttps.proxyPort=%[2]s -Dhttp.proxyHost=%[1]s -Dhttp.proxyPort=%[2]s", host, port)
	if w.TrustStore != "" {
		opts += fmt.Sprintf(" -Djavax.net.ssl.trustStore=%s -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=%s", w.TrustStore, w.TrustStorePassword)
	}
	return opts
}

// WriteTrustStore writes certs as a PKCS#12 trust store at path (0600) and
// returns its random password. Java reads a trust store's certificates with
// the password it was written with.
func WriteTrustStore(path string, certs []*x509.Certificate) (string, error) {
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		return "", err
	}
	password := hex.EncodeToString(pw)
	data, err := pkcs12.Modern.EncodeTrustStore(certs, password)
	if err != nil {
		return "", fmt.Errorf("java trust store: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("java trust store: %w", err)
	}
	return password, nil
}
