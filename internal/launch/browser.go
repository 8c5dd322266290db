package launch

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Browser kinds: the Chromium family shares its flags; Firefox needs a
// prepared profile.
const (
	KindChromium = "chromium"
	KindFirefox  = "firefox"
)

// Browser is an installed browser.
type Browser struct {
	Name string // chromium, chrome, edge, brave, firefox
	Kind string // KindChromium or KindFirefox
	Path string
}

// candidate is where a browser may be installed, per OS.
type candidate struct {
	name, kind string
	names      []string // looked up on PATH
	paths      map[string][]string
}

// candidates are in preference order: the first found is the default.
var candidates = []candidate{
	{"chromium", KindChromium, []string{"chromium", "chromium-browser"}, map[string][]string{
		// Debian's real binary: the /usr/bin wrapper adds /etc/chromium.d flags
		// (remote extensions) that undo --disable-background-networking.
		"linux":  {"/usr/lib/chromium/chromium"},
		"darwin": {"/Applications/Chromium.app/Contents/MacOS/Chromium"},
	}},
	{"chrome", KindChromium, []string{"google-chrome", "google-chrome-stable"}, map[string][]string{
		"darwin":  {"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"},
		"windows": {`%ProgramFiles%\Google\Chrome\Application\chrome.exe`, `%ProgramFiles(x86)%\Google\Chrome\Application\chrome.exe`, `%LocalAppData%\Google\Chrome\Application\chrome.exe`},
	}},
	{"edge", KindChromium, []string{"microsoft-edge", "microsoft-edge-stable"}, map[string][]string{
		"darwin":  {"/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge"},
		"windows": {`%ProgramFiles(x86)%\Microsoft\Edge\Application\msedge.exe`, `%ProgramFiles%\Microsoft\Edge\Application\msedge.exe`},
	}},
	{"brave", KindChromium, []string{"brave-browser", "brave"}, map[string][]string{
		"darwin":  {"/Applications/Brave Browser.app/Contents/MacOS/Brave Browser"},
		"windows": {`%ProgramFiles%\BraveSoftware\Brave-Browser\Application\brave.exe`, `%LocalAppData%\BraveSoftware\Brave-Browser\Application\brave.exe`},
	}},
	{"firefox", KindFirefox, []string{"firefox-esr", "firefox"}, map[string][]string{
		"darwin":  {"/Applications/Firefox.app/Contents/MacOS/firefox"},
		"windows": {`%ProgramFiles%\Mozilla Firefox\firefox.exe`, `%ProgramFiles(x86)%\Mozilla Firefox\firefox.exe`},
	}},
}

// BrowserNames are the names FindBrowser takes.
func BrowserNames() []string {
	var out []string
	for _, c := range candidates {
		out = append(out, c.name)
	}
	return out
}

// FindBrowsers lists the installed browsers, in preference order.
func FindBrowsers() []Browser {
	var out []Browser
	for _, c := range candidates {
		if p := c.find(); p != "" {
			out = append(out, Browser{Name: c.name, Kind: c.kind, Path: p})
		}
	}
	return out
}

func (c candidate) find() string {
	for _, p := range c.paths[runtime.GOOS] {
		p = os.ExpandEnv(strings.NewReplacer("%ProgramFiles%", "${ProgramFiles}", "%ProgramFiles(x86)%", "${ProgramFiles(x86)}",
			"%LocalAppData%", "${LocalAppData}").Replace(p))
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	for _, n := range c.names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// FindBrowser returns the browser named (any when ""), or an error that
// says which are installed.
func FindBrowser(name string) (Browser, error) {
	found := FindBrowsers()
	for _, b := range found {
		if name == "" || b.Name == name {
			return b, nil
		}
	}
	var names []string
	for _, b := range found {
		names = append(names, b.Name+" ("+b.Path+")")
	}
	have := "none of " + strings.Join(BrowserNames(), ", ")
	if len(names) > 0 {
		have = strings.Join(names, ", ")
	}
	if name == "" {
		return Browser{}, fmt.Errorf("no browser found; installed: %s", have)
	}
	return Browser{}, fmt.Errorf("browser %q not found; installed: %s", name, have)
}

// BrowserRun says how to start a browser on the proxy.
type BrowserRun struct {
	Proxy    string // host:port of the proxy
	SPKIHash string // the CA's leaves' key hash (Chromium family)
	CACert   string // the CA's PEM file (Firefox imports it into its profile)
	Profile  string // a fresh, empty folder the caller deletes afterwards
	Headless bool
	// Screenshot makes a headless browser load URL, write a PNG and exit.
	Screenshot string
	URL        string
}

// chromiumQuiet keep a Chromium-family browser from calling its vendor's
// services on its own (background networking, component updates, sync,
// safe-browsing lists, network time, first-run pages). Two calls have no
// switch (the component updater and the account check); they are aimed at
// names that bypass the proxy and resolve to nothing.
var chromiumQuiet = []string{
	"--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
	"--disable-sync", "--disable-default-apps", "--disable-domain-reliability", "--disable-breakpad", "--no-pings",
	"--metrics-recording-only", "--disable-quic",
	"--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication," +
		"CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,PrivacySandboxSettings4,NetworkTimeServiceQuerying",
	"--gaia-url=http://gaia.invalid/", "--component-updater=url-source=http://component-updater.invalid/",
	"--proxy-bypass-list=gaia.invalid;component-updater.invalid",
}

// ChromiumFlags are what a Chromium-family browser needs to use the proxy
// at addr and trust its leaves: the SPKI pin, which Chromium honours only
// with a profile of its own (--user-data-dir). The banner of `aadproxy
// start` prints them too.
func ChromiumFlags(addr, spkiHash, profile string) []string {
	return []string{"--user-data-dir=" + profile, "--proxy-server=http://" + addr, "--ignore-certificate-errors-spki-list=" + spkiHash}
}

// Command prepares the profile and returns the command that starts b.
func (b Browser) Command(r BrowserRun) (*exec.Cmd, error) {
	if r.Profile == "" {
		return nil, errors.New("browser: no profile folder")
	}
	switch b.Kind {
	case KindChromium:
		args := append(ChromiumFlags(r.Proxy, r.SPKIHash, r.Profile), chromiumQuiet...)
		if isRoot() {
			args = append(args, "--no-sandbox") // Chromium refuses to run as root with its sandbox
		}
		if r.Headless {
			args = append(args, "--headless", "--disable-gpu")
			if r.Screenshot != "" {
				args = append(args, "--screenshot="+r.Screenshot, "--window-size=1280,900", "--hide-scrollbars")
			}
		}
		if r.URL != "" {
			args = append(args, r.URL)
		}
		return exec.Command(b.Path, args...), nil
	case KindFirefox:
		if err := firefoxProfile(r); err != nil {
			return nil, err
		}
		args := []string{"--profile", r.Profile, "--no-remote", "--new-instance"}
		if r.Headless {
			args = append(args, "--headless")
			if r.Screenshot != "" {
				args = append(args, "--screenshot", r.Screenshot, "--window-size=1280,900")
			}
		}
		if r.URL != "" {
			args = append(args, r.URL)
		}
		cmd := exec.Command(b.Path, args...)
		// Firefox reads MOZ_ variables; a fresh HOME keeps it off the
		// user's own profiles and caches.
		cmd.Env = append(os.Environ(), "HOME="+r.Profile, "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_REMOTE_SETTINGS_DEVTOOLS=1")
		return cmd, nil
	}
	return nil, fmt.Errorf("browser kind %q unknown", b.Kind)
}

// firefoxProfile writes user.js (proxy and quiet prefs) and imports the CA
// into the profile's own certificate database, so only this profile
// trusts it.
func firefoxProfile(r BrowserRun) error {
	host, port, err := net.SplitHostPort(r.Proxy)
	if err != nil {
		return err
	}
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		return errors.New("Firefox needs NSS's certutil to trust the CA in its profile: install libnss3-tools (Debian, Ubuntu) or nss (Fedora, Homebrew)")
	}
	db := "sql:" + r.Profile
	if out, err := exec.Command(certutil, "-N", "-d", db, "--empty-password").CombinedOutput(); err != nil {
		return fmt.Errorf("certutil -N: %v: %s", err, out)
	}
	if out, err := exec.Command(certutil, "-A", "-d", db, "-n", "aadproxy CA", "-t", "C,,", "-i", r.CACert).CombinedOutput(); err != nil {
		return fmt.Errorf("certutil -A: %v: %s", err, out)
	}
	var b strings.Builder
	for _, p := range firefoxPrefs(host, port) {
		fmt.Fprintf(&b, "user_pref(%q, %s);\n", p.name, p.value)
	}
	return os.WriteFile(filepath.Join(r.Profile, "user.js"), []byte(b.String()), 0o600)
}

type pref struct{ name, value string }

// firefoxPrefs point Firefox at the proxy and turn off what a fresh
// profile otherwise calls on its own within seconds: telemetry, studies,
// safe-browsing lists, remote settings, captive-portal and connectivity
// checks, updates, add-on metadata, the new-tab feeds, DNS over HTTPS,
// OCSP and prefetching.
func firefoxPrefs(host, port string) []pref {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	prefs := []pref{
		{"network.proxy.type", "1"},
		{"network.proxy.http", q(host)}, {"network.proxy.http_port", port},
		{"network.proxy.ssl", q(host)}, {"network.proxy.ssl_port", port},
		{"network.proxy.share_proxy_settings", "true"},
		{"network.proxy.no_proxies_on", q("")},
		{"browser.shell.checkDefaultBrowser", "false"},
		{"browser.startup.page", "0"},
		{"browser.startup.homepage_override.mstone", q("ignore")},
		{"browser.aboutwelcome.enabled", "false"},
		{"startup.homepage_welcome_url", q("")}, {"startup.homepage_welcome_url.additional", q("")},
		{"browser.newtabpage.enabled", "false"},
		{"browser.newtabpage.activity-stream.feeds.topsites", "false"},
		{"browser.newtabpage.activity-stream.feeds.section.topstories", "false"},
		{"browser.newtabpage.activity-stream.feeds.telemetry", "false"},
		{"browser.newtabpage.activity-stream.telemetry", "false"},
		{"browser.newtabpage.activity-stream.default.sites", q("")},
		{"browser.topsites.contile.enabled", "false"},
		{"browser.ping-centre.telemetry", "false"},
		{"datareporting.policy.dataSubmissionEnabled", "false"},
		{"datareporting.healthreport.uploadEnabled", "false"},
		{"toolkit.telemetry.enabled", "false"}, {"toolkit.telemetry.unified", "false"},
		{"toolkit.telemetry.server", q("")}, {"toolkit.telemetry.archive.enabled", "false"},
		{"toolkit.telemetry.newProfilePing.enabled", "false"}, {"toolkit.telemetry.shutdownPingSender.enabled", "false"},
		{"toolkit.telemetry.updatePing.enabled", "false"}, {"toolkit.telemetry.bhrPing.enabled", "false"},
		{"toolkit.telemetry.firstShutdownPing.enabled", "false"},
		{"app.normandy.enabled", "false"}, {"app.normandy.api_url", q("")},
		{"app.shield.optoutstudies.enabled", "false"},
		{"messaging-system.rsexperimentloader.enabled", "false"},
		{"browser.safebrowsing.malware.enabled", "false"}, {"browser.safebrowsing.phishing.enabled", "false"},
		{"browser.safebrowsing.downloads.enabled", "false"}, {"browser.safebrowsing.downloads.remote.enabled", "false"},
		{"browser.safebrowsing.blockedURIs.enabled", "false"},
		{"browser.safebrowsing.provider.mozilla.updateURL", q("")}, {"browser.safebrowsing.provider.mozilla.gethashURL", q("")},
		{"browser.safebrowsing.provider.google4.updateURL", q("")}, {"browser.safebrowsing.provider.google4.gethashURL", q("")},
		{"browser.safebrowsing.provider.google.updateURL", q("")}, {"browser.safebrowsing.provider.google.gethashURL", q("")},
		// Honoured only with MOZ_REMOTE_SETTINGS_DEVTOOLS=1 (Command sets it).
		{"services.settings.server", q("data:,#remote-settings-dummy/v1")},
		{"dom.push.enabled", "false"}, {"dom.push.connection.enabled", "false"},
		// Glean (FOG) sends a deletion-request ping when uploads are turned
		// off; a negative port makes it drop every upload instead.
		{"telemetry.fog.test.localhost_port", "-1"},
		{"datareporting.usage.uploadEnabled", "false"},
		{"security.remote_settings.crlite_filters.enabled", "false"},
		{"security.remote_settings.intermediates.enabled", "false"},
		{"security.OCSP.enabled", "0"},
		{"network.captive-portal-service.enabled", "false"},
		{"network.connectivity-service.enabled", "false"},
		{"network.trr.mode", "5"},
		{"network.dns.disablePrefetch", "true"}, {"network.prefetch-next", "false"},
		{"network.http.speculative-parallel-limit", "0"},
		{"browser.urlbar.speculativeConnect.enabled", "false"},
		{"app.update.auto", "false"}, {"app.update.enabled", "false"}, {"app.update.checkInstallTime", "false"},
		{"extensions.update.enabled", "false"}, {"extensions.getAddons.cache.enabled", "false"},
		{"extensions.systemAddon.update.enabled", "false"}, {"extensions.blocklist.enabled", "false"},
		{"browser.search.update", "false"}, {"browser.search.geoSpecificDefaults", "false"},
		{"browser.region.update.enabled", "false"}, {"browser.region.network.url", q("")},
		{"geo.provider.network.url", q("")},
		{"identity.fxaccounts.enabled", "false"},
		{"media.gmp-manager.url", q("")}, {"media.gmp-gmpopenh264.enabled", "false"}, {"media.gmp-widevinecdm.enabled", "false"},
		// Firefox 130+ fetches Widevine from Google's updater itself.
		{"media.gmp-manager.chromium-update-url", q("")}, {"media.gmp-widevinecdm.allow-chromium-update", "false"},
		{"media.gmp-provider.enabled", "false"}, {"media.gmp-manager.updateEnabled", "false"},
		{"browser.contentblocking.report.lockwise.enabled", "false"},
		{"extensions.pocket.enabled", "false"},
		{"browser.discovery.enabled", "false"},
		{"security.enterprise_roots.enabled", "false"},
		{"privacy.sanitize.sanitizeOnShutdown", "false"},
	}
	return prefs
}

func isRoot() bool { return runtime.GOOS != "windows" && os.Geteuid() == 0 }
