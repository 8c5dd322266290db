// Package fakests is a fake Microsoft Entra ID security token service
// (login.microsoftonline.com) served over TLS on loopback, for tests and the
// `aadproxy demo` command.
//
// It owns a fixed synthetic directory (tenants, apps, users), the protocol
// logic of the endpoints real clients call (instance and OIDC discovery,
// JWKS, authorize with a sign-in page and session cookies, the token
// endpoint's grants, device code, PRT cookies), and faithful copies of Entra's
// wire shapes: error JSON, .NET-encoded error redirects, the `$Config` HTML
// page, response headers and Set-Cookie lines. Answers follow from protocol
// state (one-time codes, PKCE, signed sessions and refresh tokens), never
// from canned responses, so a client that gets the protocol wrong fails here
// too.
//
// It must not touch the proxy, the inspectors or the certificate store: it
// only uses certs to obtain a throwaway CA and leaves for its own listener.
// It never talks to the network beyond its own loopback listener.
package fakests

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aadproxy/aadproxy/certs"
)

// Host is the public name the fake answers for; any Host header is accepted,
// but URLs it builds (issuers, cookie domains) default to it.
const Host = "login.microsoftonline.com"

// Default lifetimes, close to Entra's documented or observed values.
const (
	// DefaultCodeLifetime is how long an authorization code can be redeemed.
	DefaultCodeLifetime = 10 * time.Minute
	// DefaultRefreshTokenLifetime is the inactivity window of a refresh token.
	DefaultRefreshTokenLifetime = 90 * 24 * time.Hour
	// DefaultAccessTokenLifetime gives expires_in 3599, as Entra usually does.
	DefaultAccessTokenLifetime = 3599 * time.Second
	// DefaultFlowTokenLifetime bounds the sign-in page's sFT (AADSTS50089 after).
	DefaultFlowTokenLifetime = 15 * time.Minute
	// NonceLifetime is how long a PRT request_nonce is accepted; roadtx
	// reports about five minutes for real cookies.
	NonceLifetime = 5 * time.Minute
	// DeviceCodeLifetime is the device code's expires_in (Entra says 900).
	DeviceCodeLifetime = 15 * time.Minute
)

// Options configures a Server. The zero value is valid.
type Options struct {
	// Addr is the listen address; empty means "127.0.0.1:0".
	Addr string
	// ClockSkew is added to the server's clock everywhere it shows: the Date
	// header, token iat/nbf/exp, error timestamps and cookie expiry.
	ClockSkew time.Duration
	// Now returns the current time; nil means time.Now. Tests advance it to
	// expire codes and refresh tokens.
	Now func() time.Time
	// TrailerSeparator separates "Trace ID", "Correlation ID" and
	// "Timestamp" in error descriptions; empty means "\r\n" (Entra before
	// about 2023). Set " " to mimic newer captures.
	TrailerSeparator string
	// CodeLifetime overrides DefaultCodeLifetime when positive.
	CodeLifetime time.Duration
	// RefreshTokenLifetime overrides DefaultRefreshTokenLifetime when positive.
	RefreshTokenLifetime time.Duration
	// DeviceCodeInterval is the polling interval advertised by the device
	// code endpoint; zero means 5 seconds, Entra's value.
	DeviceCodeInterval int
	// StaySignedIn shows the "Stay signed in?" page (pgid KmsiInterrupt,
	// posting to /kmsi) after a correct password, as Entra does for tenants
	// that keep the option on; without it the password post answers the app
	// at once.
	StaySignedIn bool
}

// Default returns a copy of o with empty fields set to their defaults.
func (o Options) Default() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TrailerSeparator == "" {
		o.TrailerSeparator = "\r\n"
	}
	if o.CodeLifetime <= 0 {
		o.CodeLifetime = DefaultCodeLifetime
	}
	if o.RefreshTokenLifetime <= 0 {
		o.RefreshTokenLifetime = DefaultRefreshTokenLifetime
	}
	if o.DeviceCodeInterval <= 0 {
		o.DeviceCodeInterval = 5
	}
	return o
}

// Validate reports whether o, after defaults, can configure a server.
func (o Options) Validate() error {
	o = o.Default()
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return fmt.Errorf("fakests addr %q: %w", o.Addr, err)
	}
	return nil
}

// Exchange is one request the server received, as recorded by Log.
type Exchange struct {
	Time            time.Time // server clock, skew included
	Method          string
	Proto           string // "HTTP/2.0" or "HTTP/1.1"
	Host            string
	Path            string
	Query           string            // raw query
	ClientRequestID string            // the client-request-id header, if any
	Headers         map[string]string // selected request headers (see loggedHeaders)
	RequestID       string            // the x-ms-request-id the server answered with
	CookieNames     []string
	Status          int
	ErrorCode       int // AADSTS code of an error answer, else 0
}

// Server is a fake Entra STS. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	dir     *directory
	ca      *certs.CA
	issuer  *certs.Issuer
	signKey *rsa.PrivateKey
	keyID   string
	certDER []byte // self-signed certificate of signKey, published as x5c
	secret  []byte // HMAC key for sealed codes, cookies and tokens
	handler http.Handler

	mu          sync.Mutex
	log         []Exchange
	codes       map[string]*authCode
	devices     map[string]*deviceGrant // by device_code
	userCodes   map[string]string       // user_code -> device_code
	validFrom   map[string]time.Time    // upn -> TokensValidFrom (revocation)
	signedOut   map[string]bool         // session ids ended by logout
	reqCounter  uint8
	handshakes  atomic.Int64
	listener    net.Listener
	httpServer  *http.Server
	serveErr    chan error
	started     bool
	closed      bool
	closeResult error
}

// New creates a server with a fresh CA, token signing key and directory. It
// does not listen; call Start.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("new fakests: %w", err)
	}
	opts = opts.Default()
	ca, err := certs.New(certs.Options{CommonName: "fakests test CA"})
	if err != nil {
		return nil, fmt.Errorf("new fakests: %w", err)
	}
	s := &Server{
		opts:      opts,
		dir:       newDirectory(),
		ca:        ca,
		issuer:    certs.NewIssuer(ca, certs.IssuerOptions{}),
		codes:     map[string]*authCode{},
		devices:   map[string]*deviceGrant{},
		userCodes: map[string]string{},
		validFrom: map[string]time.Time{},
		signedOut: map[string]bool{},
	}
	s.secret = make([]byte, 32)
	if _, err := rand.Read(s.secret); err != nil {
		return nil, fmt.Errorf("new fakests: %w", err)
	}
	if err := s.newSigningKey(); err != nil {
		return nil, fmt.Errorf("new fakests: %w", err)
	}
	s.handler = s.routes()
	return s, nil
}

// Start listens on Options.Addr and serves TLS in the background. The
// listener is bound when Start returns, so clients may connect at once.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("fakests: already started")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("fakests: listen on %s: %w", s.opts.Addr, err)
	}
	tlsConf := s.issuer.ServerConfig(Host)
	// Entra speaks HTTP/2, and so does the fake: net/http serves a TLS
	// connection that negotiated h2 with its own HTTP/2 server.
	tlsConf.NextProtos = []string{"h2", "http/1.1"}
	tlsConf.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		s.handshakes.Add(1)
		return nil, nil
	}
	s.listener = ln
	s.httpServer = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.serveErr = make(chan error, 1)
	s.started = true
	go func() {
		s.serveErr <- s.httpServer.Serve(tls.NewListener(ln, tlsConf))
	}()
	return nil
}

// Close stops the listener and waits for the serve loop to end. Closing an
// unstarted or closed server is a no-op.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.started || s.closed {
		s.mu.Unlock()
		return s.closeResult
	}
	s.closed = true
	hs := s.httpServer
	s.mu.Unlock()

	err := hs.Close()
	if serr := <-s.serveErr; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		err = fmt.Errorf("fakests: close: %w", err)
	}
	s.mu.Lock()
	s.closeResult = err
	s.mu.Unlock()
	return err
}

// Addr returns the listener's address, "127.0.0.1:port", or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// Handshakes returns how many TLS handshakes clients have begun with the
// server: a test counts the connections a proxy made to it.
func (s *Server) Handshakes() int64 { return s.handshakes.Load() }

// CAPEM returns the PEM certificate of the CA that signs the server's leaves.
func (s *Server) CAPEM() []byte { return s.ca.CertPEM() }

// CAPool returns a pool holding only the server's CA.
func (s *Server) CAPool() *x509.CertPool { return s.ca.Pool() }

// CA returns the server's CA, for callers (such as a proxy under test) that
// want to present leaves from the same root.
func (s *Server) CA() *certs.CA { return s.ca }

// Handler returns the HTTP handler behind the listener, for in-process use
// without TLS (httptest) or behind another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Log returns a copy of the exchanges received so far, oldest first.
func (s *Server) Log() []Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Exchange, len(s.log))
	copy(out, s.log)
	return out
}

// ResetLog forgets the exchanges recorded so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// now is the server's clock: Options.Now plus ClockSkew.
func (s *Server) now() time.Time { return s.opts.Now().Add(s.opts.ClockSkew) }

// DialContext connects to the server's listener whatever address it is
// asked for, so a transport (a proxy's upstream, a test client) can map
// every identity hostname here.
func (s *Server) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, s.Addr())
}

// HTTPClient returns a client that reaches the server at Addr whatever host a
// URL names and trusts only the server's CA. It keeps no cookies; set Jar to
// carry sessions.
func (s *Server) HTTPClient() *http.Client {
	tr := &http.Transport{
		DialContext:       s.DialContext,
		TLSClientConfig:   &tls.Config{RootCAs: s.CAPool()},
		ForceAttemptHTTP2: false,
	}
	return &http.Client{
		Transport: tr,
		// Redirects are the protocol here: callers look at each 302.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}
