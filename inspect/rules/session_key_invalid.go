package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// SessionKeyInvalid explains PRT and session-key errors with the PRT
// cookie the request carried.
var SessionKeyInvalid = &inspect.Rule{
	ID:    "session-key-invalid",
	Title: "Entra refused the PRT cookie or session-key signature",
	Doc: `Explains AADSTS140000 (request nonce missing), 140001 (invalid session
key), 7000016 (PRT not signed with the session key) and 5000611 (key
derivation version refused) with what the request carried: the
x-ms-RefreshTokenCredential cookie or header (or a signed "request" JWT on
the token endpoint), decoded without keeping the refresh token. It reports
a missing cookie, a missing request_nonce, a nonce that is not the one
Entra issued most recently in the traffic (grant_type=srv_challenge's
"Nonce", an authorize redirect's sso_nonce, or the sign-in page's
$Config.bsso.nonce) or is older than the ~5 minutes a nonce lasts, an iat
further from the server's Date than the clock-skew threshold, and KDFv1
(no kdf_ver 2) when 5000611 refuses it.

Bad trace: POST /common/oauth2/token grant_type=srv_challenge → {"Nonce":"AwAB…B"},
then GET /common/oauth2/v2.0/authorize with an x-ms-RefreshTokenCredential
whose request_nonce is an older "AwAB…A" and whose iat is 20 minutes before
the server's Date, answered AADSTS140001.`,
	Severity: inspect.Error,
	Run:      runSessionKeyInvalid,
}

// sessionKeyCodes are the codes this rule explains.
var sessionKeyCodes = []int{140000, 140001, 7000016, 5000611}

// nonceLifetime is how long a PRT request nonce is usable [obs: roadtx
// says about five minutes].
const nonceLifetime = 5 * time.Minute

// issuedNonce is a PRT nonce Entra handed out.
type issuedNonce struct {
	value string
	flow  int
	how   string
	at    time.Time // the response's Date; zero if absent
}

func runSessionKeyInvalid(p *inspect.Pass) error {
	var e *decode.AADSTSError
	for i, x := range p.Errors() {
		if slices.ContainsFunc(x.Codes, func(c int) bool { return slices.Contains(sessionKeyCodes, c) }) {
			e = &p.Errors()[i]
			break
		}
	}
	if e == nil {
		return nil
	}
	code := 0
	for _, c := range e.Codes {
		if slices.Contains(sessionKeyCodes, c) {
			code = c
			break
		}
	}
	f := p.Flow
	v := p.View()
	date, dateOK := decode.ResponseDate(f)
	var notes []string
	var related []int
	fix := ""
	setFix := func(s string) {
		if fix == "" {
			fix = s
		}
	}

	var prt *inspect.FoundToken
	var signedReq *decode.JWT
	toks := v.Tokens()
	for i := range toks {
		switch {
		case toks[i].Field == inspect.PRTCookieName && prt == nil:
			prt = &toks[i]
		case toks[i].Field == "request" && toks[i].Sent && toks[i].JWT() != nil:
			signedReq = toks[i].JWT()
		}
	}

	switch {
	case prt == nil && signedReq != nil:
		kdf := "none (KDFv1)"
		if k := signedReq.HeaderText("kdf_ver"); k != "" {
			kdf = k
		}
		notes = append(notes, fmt.Sprintf("the token request carries a session-key-signed request JWT (alg %s, kdf_ver %s)", signedReq.Alg(), kdf))
		if code == 5000611 && kdf != "2" {
			notes = append(notes, "its key was derived with KDFv1, which Entra refuses here")
			setFix("Derive the signing key with KDFv2 (kdf_ver 2 in the header, context SHA256(ctx ‖ payload)) when the tenant's metadata lists kdf_ver2")
		}
		if n, _ := signedReq.Claims["request_nonce"].(string); n == "" && code == 140000 {
			notes = append(notes, "it has no request_nonce")
			setFix("Get a nonce first (POST /common/oauth2/token with grant_type=srv_challenge) and sign it into request_nonce")
		}
	case prt == nil:
		notes = append(notes, "the request carried no x-ms-RefreshTokenCredential cookie or header and no signed request JWT, so the failing artifact is not in this request (look at the flow that sent it)")
		setFix("Check that the browser's SSO extension or native messaging host supplies the x-ms-RefreshTokenCredential cookie, then retry")
	case prt.Err != nil:
		notes = append(notes, fmt.Sprintf("the x-ms-RefreshTokenCredential sent in %s does not decode: %v", placeName(prt.Place), prt.Err))
		setFix("Rebuild the PRT cookie: it must be a JWT signed with the session-key-derived key")
	default:
		c := prt.PRT
		kdf := "no kdf_ver (KDFv1)"
		if c.KdfVer != 0 {
			kdf = fmt.Sprintf("kdf_ver %d", c.KdfVer)
		}
		rt := "no refresh_token"
		if c.RefreshTokenLen > 0 {
			rt = fmt.Sprintf("a %d-character refresh_token starting %q", c.RefreshTokenLen, c.RefreshTokenPrefix)
		}
		notes = append(notes, fmt.Sprintf("the x-ms-RefreshTokenCredential in %s has alg %s, %s, a %d-byte ctx and %s", placeName(prt.Place), c.Alg, kdf, max(c.CtxLen, 0), rt))
		if c.RefreshTokenLen == 0 {
			setFix("Send a PRT cookie that carries the primary refresh token (refresh_token claim)")
		}
		if c.RequestNonce == "" {
			note := "it has no request_nonce"
			if issued := issuedNonces(p.History); len(issued) > 0 {
				note += fmt.Sprintf(", though Entra issued one in flow %d (%s)", issued[0].flow, issued[0].how)
				related = append(related, issued[0].flow)
			}
			notes = append(notes, note)
			setFix("Get a nonce first (POST /common/oauth2/token with grant_type=srv_challenge, or the sso_nonce Entra adds to the authorize URL) and sign it into request_nonce")
		} else if issued := issuedNonces(p.History); len(issued) == 0 {
			notes = append(notes, "its request_nonce matches no nonce issued in the traffic (no srv_challenge answer, sso_nonce redirect or $Config.bsso.nonce was seen)")
		} else {
			latest := issued[0]
			related = append(related, latest.flow)
			match := -1
			for i, n := range issued {
				if n.value == c.RequestNonce {
					match = i
					break
				}
			}
			switch {
			case match < 0:
				notes = append(notes, fmt.Sprintf("its request_nonce is none of the nonces Entra issued in the traffic; the latest came in flow %d (%s)", latest.flow, latest.how))
				setFix(fmt.Sprintf("Sign the PRT cookie over the nonce Entra issued most recently (flow %d) and send it within about 5 minutes", latest.flow))
			case match > 0:
				related = append(related, issued[match].flow)
				notes = append(notes, fmt.Sprintf("its request_nonce is the older one issued in flow %d (%s), not the latest from flow %d", issued[match].flow, issued[match].how, latest.flow))
				setFix(fmt.Sprintf("Sign the PRT cookie over the nonce Entra issued most recently (flow %d) and send it within about 5 minutes", latest.flow))
			case dateOK && !latest.at.IsZero() && date.Sub(latest.at) > nonceLifetime:
				notes = append(notes, fmt.Sprintf("its request_nonce was issued in flow %d (%s) %s before this request; a nonce lasts about 5 minutes", latest.flow, latest.how, roundDur(date.Sub(latest.at))))
				setFix("Fetch a fresh nonce right before building the PRT cookie and send the cookie within about 5 minutes")
			default:
				notes = append(notes, fmt.Sprintf("its request_nonce is the latest Entra issued (flow %d)", latest.flow))
			}
		}
		if c.HasIat && dateOK {
			if d := date.Sub(c.Iat); d > p.Options.ClockSkewThreshold || -d > p.Options.ClockSkewThreshold {
				when := "before"
				if d < 0 {
					when, d = "after", -d
				}
				notes = append(notes, fmt.Sprintf("its iat %s is %s %s the server's Date %s (threshold %s)", c.Iat.Format(time.RFC3339), roundDur(d), when, date.Format(time.RFC3339), p.Options.ClockSkewThreshold))
				setFix("Sync the device clock and build a fresh PRT cookie for each request")
			}
		}
		if code == 5000611 && c.KdfVer < 2 {
			notes = append(notes, "the key was derived with KDFv1, which Entra refuses here")
			setFix("Derive the signing key with KDFv2 (kdf_ver 2 in the header, context SHA256(ctx ‖ payload)) when the tenant's metadata lists kdf_ver2")
		}
	}
	switch code {
	case 140000:
		setFix("Get a nonce first (POST /common/oauth2/token with grant_type=srv_challenge) and sign it into request_nonce")
	case 5000611:
		setFix("Derive the signing key with the KDF version Entra expects (KDFv2 when the metadata lists kdf_ver2)")
	default:
		setFix("Refresh the PRT and its session key (dsregcmd /refreshprt, or sign out of Windows and in again); re-register the device if it persists")
	}
	p.Report(inspect.Finding{
		Code:     code,
		Title:    fmt.Sprintf("AADSTS%d: Entra refused the PRT-signed request", code),
		Evidence: fmt.Sprintf("%s got AADSTS%d; %s", describeRequest(f), code, strings.Join(notes, "; ")),
		Fix:      fix,
		Related:  sortedFlows(setOf(related), f.Index),
	})
	return nil
}

func setOf(xs []int) map[int]bool {
	m := map[int]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func placeName(place string) string {
	if place == inspect.PlaceCookie {
		return "the Cookie header"
	}
	return "a request header"
}

// issuedNonces lists the PRT nonces Entra issued in earlier flows, newest
// first.
func issuedNonces(h *inspect.History) []issuedNonce {
	var out []issuedNonce
	for v := range recentIdentityViews(h, lookbackFlows) {
		f := v.Flow
		if f.Response == nil {
			continue
		}
		at, _ := decode.ResponseDate(f)
		add := func(value, how string) {
			if value != "" {
				out = append(out, issuedNonce{value, f.Index, how, at})
			}
		}
		for _, loc := range f.Response.Header.Values("Location") {
			if u, err := url.Parse(loc); err == nil {
				add(u.Query().Get("sso_nonce"), "sso_nonce in the authorize redirect")
			}
		}
		body, err := f.Response.Body.Decoded()
		if err != nil && len(body) == 0 {
			body = f.Response.Body.Raw
		}
		trimmed := bytes.TrimSpace(body)
		switch {
		case len(trimmed) > 0 && trimmed[0] == '{':
			var m struct {
				Nonce string `json:"Nonce"`
			}
			if json.Unmarshal(trimmed, &m) == nil {
				add(m.Nonce, "the srv_challenge answer")
			}
		case bytes.Contains(body, []byte("$Config")):
			if cfg, err := decode.ParseConfig(body); err == nil {
				if bsso, ok := cfg["bsso"].(map[string]any); ok {
					s, _ := bsso["nonce"].(string)
					add(s, "$Config.bsso.nonce on the sign-in page")
				}
			}
		}
	}
	return out
}

// roundDur renders a duration to the second, or the minute when long.
func roundDur(d time.Duration) string {
	if d >= time.Hour {
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}
