package decode

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// jwtSeg encodes v as one unpadded base64url JWT segment.
func jwtSeg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// jwtSample builds a synthetic, unsigned-but-for-show JWT.
func jwtSample(header, claims map[string]any, sig string) string {
	return jwtSeg(header) + "." + jwtSeg(claims) + "." + sig
}

const (
	jwtTenantContoso = "5f3c1e2a-0000-4000-8000-00000000c0c0"
	jwtTenantMSA     = "9188040d-6c67-4c5b-b112-36a304b66dad"
)

var (
	jwtIDToken = jwtSample(
		map[string]any{"typ": "JWT", "alg": "RS256", "kid": "kid-1"},
		map[string]any{
			"aud": "aaaaaaaa-0000-4000-8000-000000000000", "iss": "https://login.microsoftonline.com/" + jwtTenantContoso + "/v2.0",
			"iat": 1717243200, "nbf": 1717243200, "exp": 1717247100, "tid": jwtTenantContoso, "oid": "0000aaaa-0000-4000-8000-000000000001",
			"sub": "pairwise-sub", "ver": "2.0", "nonce": "n-1", "preferred_username": "alice@contoso.com",
		},
		base64.RawURLEncoding.EncodeToString(make([]byte, 256)))
	jwtAccessTokenV1 = jwtSample(
		map[string]any{"typ": "JWT", "alg": "RS256", "x5t": "kid-1", "kid": "kid-1"},
		map[string]any{
			"aud": []any{"https://graph.microsoft.com", 7, "api://x"}, "iss": "https://sts.windows.net/" + jwtTenantContoso + "/",
			"iat": "1717243200", "exp": 1717247100.5, "appid": "bbbbbbbb-0000-4000-8000-000000000000", "scp": "User.Read  Mail.Read",
			"roles": []any{"Admin", "Reader"}, "upn": "alice@contoso.com", "idp": "https://sts.windows.net/" + jwtTenantMSA + "/", "ver": "1.0",
		},
		"c2ln")
	// The padded variant of a header and claims, as some clients send them.
	jwtPadded = base64.URLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		base64.URLEncoding.EncodeToString([]byte(`{"tid":"t","exp":1}`)) + "."
	jwtJWE = jwtSeg(map[string]any{"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "enc-1"}) + ".ZW5jcnlwdGVka2V5.aXY.Y2lwaGVydGV4dA.dGFn"
	jwtPRT = jwtSample(
		map[string]any{"alg": "HS256", "ctx": base64.StdEncoding.EncodeToString(make([]byte, 24)), "kdf_ver": 2},
		map[string]any{"refresh_token": "0.AV8A-secret-prt-value", "is_primary": "true", "request_nonce": "AwABEgEAAAADAOz_BQD0_nonce",
			"iat": 1717243200, "win_ver": "10.0.22631.3527", "windows_api_version": "2.0.1", "x_client_platform": "windows"},
		base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
)

func TestParseJWT(t *testing.T) {
	at := func(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
	j, err := ParseJWT(jwtIDToken)
	if err != nil {
		t.Fatalf("ParseJWT(id token): %v", err)
	}
	iat, iok := j.Iat()
	exp, eok := j.Exp()
	nbf, nok := j.Nbf()
	got := []any{j.Alg(), j.Kid(), j.Typ(), j.Iss(), strings.Join(j.Aud(), ","), j.Tid(), j.Oid(), j.Sub(), j.Ver(), j.Nonce(),
		iat, iok, exp, eok, nbf, nok, j.PreferredUsername(), j.Username(), j.SignatureLen, j.Encrypted, j.Appid(), j.Upn()}
	want := []any{"RS256", "kid-1", "JWT", "https://login.microsoftonline.com/" + jwtTenantContoso + "/v2.0", "aaaaaaaa-0000-4000-8000-000000000000",
		jwtTenantContoso, "0000aaaa-0000-4000-8000-000000000001", "pairwise-sub", "2.0", "n-1",
		at(1717243200), true, at(1717247100), true, at(1717243200), true, "alice@contoso.com", "alice@contoso.com", 256, false, "", ""}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ParseJWT(id token) field %d: got %v, want %v", i, got[i], want[i])
		}
	}

	j, err = ParseJWT(jwtAccessTokenV1)
	if err != nil {
		t.Fatalf("ParseJWT(v1 access token): %v", err)
	}
	iat, iok = j.Iat()
	exp, _ = j.Exp()
	_, nok = j.Nbf()
	got = []any{strings.Join(j.Aud(), ","), strings.Join(j.Scp(), ","), strings.Join(j.Roles(), ","), j.Appid(), j.Upn(), j.Idp(), j.Ver(),
		iat, iok, exp, nok, j.SignatureLen}
	want = []any{"https://graph.microsoft.com,api://x", "User.Read,Mail.Read", "Admin,Reader", "bbbbbbbb-0000-4000-8000-000000000000",
		"alice@contoso.com", "https://sts.windows.net/" + jwtTenantMSA + "/", "1.0",
		at(1717243200), true, at(1717247100).Add(500 * time.Millisecond), false, 3}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ParseJWT(v1 access token) field %d: got %v, want %v", i, got[i], want[i])
		}
	}

	j, err = ParseJWT(jwtPadded)
	if err != nil || j.Alg() != "none" || j.Tid() != "t" || j.SignatureLen != 0 {
		t.Errorf("ParseJWT(padded): got %+v, %v, want alg none, tid t, no signature", j, err)
	}
	j, err = ParseJWT(jwtPRT)
	if err != nil || j.HeaderText("kdf_ver") != "2" || j.HeaderText("alg") != "HS256" || j.HeaderText("missing") != "" {
		t.Errorf("ParseJWT(PRT) HeaderText: got kdf_ver %q alg %q, %v, want 2 and HS256", j.HeaderText("kdf_ver"), j.HeaderText("alg"), err)
	}
	j, err = ParseJWT(jwtJWE)
	if err != nil || !j.Encrypted || j.Alg() != "RSA-OAEP" || j.Claims != nil || j.Tid() != "" {
		t.Errorf("ParseJWT(JWE): got %+v, %v, want encrypted with header only", j, err)
	}
}

func TestParseJWTErrors(t *testing.T) {
	hdr := jwtSeg(map[string]any{"alg": "none"})
	tests := []struct {
		in, want string
	}{
		{"", "got 1 dot-separated parts"},
		{"a.b", "got 2 dot-separated parts"},
		{"a.b.c.d", "got 4 dot-separated parts"},
		{"e$J.e30.", "could not decode as JWT: header is not base64url: illegal base64 data"},
		{"WzFd.e30.", "could not decode as JWT: header is not a JSON object"},
		{"bnVsbA.e30.", "could not decode as JWT: header is not a JSON object: got null"},
		{"e30ge30.e30.", "header is not a JSON object: data after the object"},
		{hdr + ".!!.", "could not decode as JWT: claims is not base64url"},
		{hdr + ".e30.***", "could not decode as JWT: signature is not base64url"},
		{"!!.a.b.c.d", "could not decode as JWE: header is not base64url"},
	}
	for _, tt := range tests {
		j, err := ParseJWT(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseJWT(%q): got %+v, %v, want an error containing %q", tt.in, j, err, tt.want)
		}
	}
	// Claims that are numbers of the wrong kind read as absent, not as errors.
	j, err := ParseJWT(hdr + "." + jwtSeg(map[string]any{"exp": "soon", "iat": -5, "nbf": 1e300, "aud": 3}) + ".")
	if err != nil {
		t.Fatalf("ParseJWT(odd claims): %v", err)
	}
	if _, ok := j.Exp(); ok {
		t.Errorf("Exp() of \"soon\": got ok, want not ok")
	}
	if _, ok := j.Iat(); ok {
		t.Errorf("Iat() of -5: got ok, want not ok")
	}
	if _, ok := j.Nbf(); ok {
		t.Errorf("Nbf() of 1e300: got ok, want not ok")
	}
	if a := j.Aud(); a != nil {
		t.Errorf("Aud() of 3: got %v, want nil", a)
	}
	var nilJWT *JWT
	if nilJWT.Tid() != "" || nilJWT.Ver() != "" || nilJWT.Aud() != nil {
		t.Errorf("nil JWT helpers: want zero values")
	}
}

func TestParseToken(t *testing.T) {
	tests := []struct {
		in     string
		kind   TokenKind
		prefix string
		err    string
	}{
		{jwtIDToken, KindJWT, "", ""},
		{" " + jwtPadded + "\n", KindJWT, "", ""},
		{jwtJWE, KindJWE, "", ""},
		{"0.AXEA8sGzAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AgABAAEAAAD--DLA3VO7QrddgJg7WevrAgDs_wQA9P-abc", KindOpaque, "0.A", ""},
		{"1.AW8AKh48XwAAAAAAAAAAAAAAAAAAAAAA.AgABAwEAAAA-abc.def", KindOpaque, "1.A", ""},
		{"EwBwA8l6BAAUO9chh8cJscQLmU+LSWpbnr0vmwwAAYwlZ0cE7mVjVqdLS/qtNVk1Bq0=", KindOpaque, "EwB", ""},
		{"M.C105_BAY.2.U.f0b2c5fd-0e8b-e9ce-1b31-4b0f6a8b8cc1", KindOpaque, "M.C", ""},
		{"a.b.c", KindOpaque, "a.b", ""},
		{"", 0, "", "empty"},
		{"abc def", 0, "", "not a token character"},
		{"eyJhbGciOi.e30.", 0, "", "could not decode as JWT: header"},
		{"eyJhbGciOiJub25lIn0.!!!.", 0, "", "could not decode as JWT: claims is not base64url"},
	}
	for _, tt := range tests {
		tok, err := ParseToken(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseToken(%q): got %+v, %v, want an error containing %q", tt.in, tok, err, tt.err)
			}
			continue
		}
		if err != nil || tok.Kind != tt.kind || tok.Prefix != tt.prefix || tok.Len != len(strings.TrimSpace(tt.in)) {
			t.Errorf("ParseToken(%q): got %v %q len %d, %v, want %v %q", tt.in, tok.Kind, tok.Prefix, tok.Len, err, tt.kind, tt.prefix)
		}
		if (tok.JWT != nil) != (tt.kind != KindOpaque) {
			t.Errorf("ParseToken(%q): JWT set %v, want %v", tt.in, tok.JWT != nil, tt.kind != KindOpaque)
		}
	}
	if s := KindJWE.String() + KindOpaque.String() + KindJWT.String(); s != "JWEopaqueJWT" {
		t.Errorf("TokenKind.String: got %q", s)
	}
}

func TestParsePRTCookie(t *testing.T) {
	c, err := ParsePRTCookie(jwtPRT)
	if err != nil {
		t.Fatalf("ParsePRTCookie: %v", err)
	}
	want := PRTCookie{
		Alg: "HS256", Ctx: base64.StdEncoding.EncodeToString(make([]byte, 24)), CtxLen: 24, KdfVer: 2,
		RequestNonce: "AwABEgEAAAADAOz_BQD0_nonce", Iat: time.Unix(1717243200, 0).UTC(), HasIat: true, IsPrimary: "true",
		RefreshTokenLen: len("0.AV8A-secret-prt-value"), RefreshTokenPrefix: "0.A",
		WinVer: "10.0.22631.3527", WindowsAPIVersion: "2.0.1", XClientPlatform: "windows", SignatureLen: 32,
	}
	if *c != want {
		t.Errorf("ParsePRTCookie: got %+v, want %+v", *c, want)
	}
	if strings.Contains(jwtSeg(*c), "secret") {
		t.Errorf("ParsePRTCookie kept the refresh token")
	}
	// Quoted and percent-encoded, without nonce or PRT: shape only.
	bare := jwtSample(map[string]any{"alg": "HS256", "ctx": "AAAA"}, map[string]any{"is_primary": true}, "")
	c, err = ParsePRTCookie(`"` + strings.ReplaceAll(bare, ".", "%2E") + `"`)
	if err != nil || c.RequestNonce != "" || c.RefreshTokenLen != 0 || c.KdfVer != 0 || c.HasIat || c.IsPrimary != "true" || c.CtxLen != 3 {
		t.Errorf("ParsePRTCookie(bare): got %+v, %v, want no nonce, no PRT, KDFv1, is_primary true, ctx 3 bytes", c, err)
	}
	for _, in := range []string{"", "not-a-jwt", jwtJWE, "eyJ.e30."} {
		if c, err := ParsePRTCookie(in); err == nil || !strings.Contains(err.Error(), "x-ms-RefreshTokenCredential") {
			t.Errorf("ParsePRTCookie(%q): got %+v, %v, want an error naming the cookie", in, c, err)
		}
	}
}

func FuzzParseJWT(f *testing.F) {
	for _, s := range []string{jwtIDToken, jwtAccessTokenV1, jwtPadded, jwtJWE, jwtPRT, "a.b.c", "e30.e30.", "e30.e30.e30.e30.e30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseJWT(s)
		if (j == nil) == (err == nil) {
			t.Fatalf("ParseJWT(%q): got (%v, %v), want exactly one", s, j, err)
		}
		if err != nil {
			return
		}
		// Every helper must be safe on whatever decoded.
		_, _, _, _, _ = j.Alg(), j.Kid(), j.Typ(), j.Iss(), j.Aud()
		_, _, _, _, _ = j.Tid(), j.Oid(), j.Sub(), j.Ver(), j.Nonce()
		_, _, _, _, _, _ = j.Scp(), j.Roles(), j.Appid(), j.PreferredUsername(), j.Upn(), j.Idp()
		for _, fn := range []func() (time.Time, bool){j.Iat, j.Nbf, j.Exp} {
			if tm, ok := fn(); ok {
				_ = tm.Format(time.RFC3339)
			}
		}
		if j.Encrypted != (j.Claims == nil) {
			t.Fatalf("ParseJWT(%q): Encrypted %v with claims %v", s, j.Encrypted, j.Claims)
		}
	})
}

func FuzzParseToken(f *testing.F) {
	for _, s := range []string{jwtIDToken, jwtJWE, "0.AXEA.x", "EwBwA8l6+/=", "M.C105_BAY.2.U.x", "eyJ.x.y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			return
		}
		switch tok.Kind {
		case KindJWT, KindJWE:
			if tok.JWT == nil || tok.JWT.Encrypted != (tok.Kind == KindJWE) {
				t.Fatalf("ParseToken(%q): kind %v with JWT %+v", s, tok.Kind, tok.JWT)
			}
		case KindOpaque:
			if tok.JWT != nil || tok.Prefix == "" {
				t.Fatalf("ParseToken(%q): opaque with JWT %+v prefix %q", s, tok.JWT, tok.Prefix)
			}
		default:
			t.Fatalf("ParseToken(%q): no kind and no error", s)
		}
	})
}

func FuzzParsePRTCookie(f *testing.F) {
	for _, s := range []string{jwtPRT, `"` + jwtPRT + `"`, "%65%79J.e30.", jwtIDToken, "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParsePRTCookie(s)
		if (c == nil) == (err == nil) {
			t.Fatalf("ParsePRTCookie(%q): got (%v, %v), want exactly one", s, c, err)
		}
		if c != nil && c.RefreshTokenLen < len(c.RefreshTokenPrefix) {
			t.Fatalf("ParsePRTCookie(%q): prefix %q longer than the token (%d)", s, c.RefreshTokenPrefix, c.RefreshTokenLen)
		}
	})
}
