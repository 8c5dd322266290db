package rules

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// PKCEMismatch recomputes the PKCE challenge from a token request's
// code_verifier and compares it with the authorize request's challenge.
var PKCEMismatch = &inspect.Rule{
	ID:    "pkce-mismatch",
	Title: "PKCE code_verifier does not match the authorize request's code_challenge",
	Doc: `With PKCE the authorize request sends code_challenge (S256:
base64url(SHA-256(verifier)) without padding; plain: the verifier itself)
and the token request that redeems the code must send the code_verifier it
was made from. The rule follows the code back to its authorize request,
recomputes the challenge from the verifier and compares. A mismatch is what
Entra answers with invalid_grant AADSTS501481 (older: 50148); the evidence
names the usual mistakes: a verifier from another sign-in (it matches the
challenge of a different authorize request in the trace), a challenge
encoded with the standard base64 alphabet or padding, a hex digest, the
verifier sent as the challenge with method S256, or a verifier outside the
43–128 unreserved characters RFC 7636 allows. A token request that sends no
code_verifier for a code whose authorize request sent a challenge is
reported too; a public client (no secret, no assertion) cannot redeem it.

When the authorize request is not in the trace, a 501481 answer is
explained from the token request alone.

Bad trace: GET …/authorize?…&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256
then POST …/token code=…&code_verifier=<another sign-in's verifier> → 400
invalid_grant AADSTS501481.`,
	Severity: inspect.Error,
	Run:      runPKCEMismatch,
}

func runPKCEMismatch(p *inspect.Pass) error {
	params := p.View().OAuth()
	if !params.Endpoint.IsToken() || params.Code == "" || (params.GrantType != "" && params.GrantType != "authorization_code") {
		return nil
	}
	code := oauthErrorCode(p, 501481, 50148)
	issue := oauthFindIssue(p, params.Code)
	if issue == nil || issue.Authorize == nil {
		if code != 0 {
			ev := fmt.Sprintf("flow %d redeems code %s and Entra answers AADSTS%d; the authorize request is not in this trace, so the challenge cannot be recomputed", p.Flow.Index, oauthFingerprint(params.Code), code)
			if params.CodeVerifier == "" {
				ev += "; the token request sends no code_verifier"
			} else if note := verifierShape(params.CodeVerifier); note != "" {
				ev += "; " + note
			}
			p.Report(inspect.Finding{
				Code:     code,
				Title:    "PKCE code_verifier does not match the authorize request's code_challenge",
				Evidence: ev,
				Fix:      "Send the code_verifier that was generated with the authorize request's code_challenge, kept per sign-in (keyed by state)",
			})
		}
		return nil
	}
	auth := issue.Authorize
	challenge, method := auth.Params.CodeChallenge, auth.Params.CodeChallengeMethod
	if challenge == "" {
		return nil
	}
	related := []int{auth.Index}
	if params.CodeVerifier == "" {
		who := "this public client (no client secret or assertion) cannot redeem it"
		if !params.PublicClient() {
			who = "Entra requires the verifier whenever the code was bound to a challenge, even for a confidential client"
		}
		p.Report(inspect.Finding{
			Code:  code,
			Title: "Token request omits code_verifier for a PKCE-bound code",
			Evidence: fmt.Sprintf("flow %d redeems code %s without code_verifier; flow %d's authorize request sent code_challenge %q (method %s); %s",
				p.Flow.Index, oauthFingerprint(params.Code), auth.Index, challenge, methodName(method), who),
			Fix:     "Send code_verifier with the token request: the verifier the authorize request's code_challenge was made from",
			Related: related,
		})
		return nil
	}
	computed, ok := pkceChallenge(params.CodeVerifier, method)
	if ph, isPH := decode.ParsePlaceholder(params.CodeVerifier); isPH {
		// A sanitized trace keeps the verifier's S256 in its placeholder;
		// with plain (or no S256 kept) the comparison is impossible.
		if ph.S256 == "" || !strings.EqualFold(method, "S256") {
			return nil
		}
		computed = ph.S256
	}
	if !ok {
		p.Report(inspect.Finding{
			Code:  code,
			Title: "Authorize request uses an unsupported code_challenge_method",
			Evidence: fmt.Sprintf("flow %d's authorize request sent code_challenge_method %q; Entra supports S256 and plain",
				auth.Index, method),
			Fix:     "Send code_challenge_method=S256 with base64url(SHA-256(code_verifier))",
			Related: related,
		})
		return nil
	}
	if computed == challenge {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "flow %d redeems code %s with code_verifier %s, whose %s challenge is %q; flow %d's authorize request sent code_challenge %q",
		p.Flow.Index, oauthFingerprint(params.Code), oauthFingerprint(params.CodeVerifier), methodName(method), computed, auth.Index, challenge)
	if code != 0 {
		fmt.Fprintf(&b, "; Entra refused it with AADSTS%d", code)
	} else if p.Flow.Status() != 200 {
		b.WriteString("; Entra will refuse it (AADSTS501481)")
	}
	if why := pkceWhy(params.CodeVerifier, challenge, method); why != "" {
		b.WriteString("; " + why)
	}
	if other := oauthOtherAuthorize(p, auth.Index, func(ap *decode.Params) bool { return ap.CodeChallenge == computed }); other >= 0 {
		fmt.Fprintf(&b, "; the verifier matches the challenge of flow %d's authorize request: it belongs to another sign-in", other)
		related = append(related, other)
	}
	if note := verifierShape(params.CodeVerifier); note != "" {
		b.WriteString("; " + note)
	}
	p.Report(inspect.Finding{
		Code:     code,
		Title:    "PKCE code_verifier does not match the authorize request's code_challenge",
		Evidence: b.String(),
		Fix:      "Send the code_verifier that the authorize request's code_challenge was made from, kept per sign-in (keyed by state), and encode the challenge as unpadded base64url",
		Related:  related,
	})
	return nil
}

// pkceChallenge computes the challenge for a verifier; ok is false for a
// method Entra does not support. An empty method means plain (RFC 7636).
func pkceChallenge(verifier, method string) (string, bool) {
	switch {
	case strings.EqualFold(method, "S256"):
		sum := sha256.Sum256([]byte(verifier))
		return base64.RawURLEncoding.EncodeToString(sum[:]), true
	case method == "" || strings.EqualFold(method, "plain"):
		return verifier, true
	}
	return "", false
}

func methodName(m string) string {
	if m == "" {
		return "plain (no code_challenge_method sent)"
	}
	return m
}

// pkceWhy recognises the usual encoding mistakes behind a mismatch.
func pkceWhy(verifier, challenge, method string) string {
	sum := sha256.Sum256([]byte(verifier))
	switch {
	case strings.EqualFold(method, "S256") && challenge == verifier:
		return "the authorize request sent the verifier itself as the challenge while saying S256"
	case !strings.EqualFold(method, "S256") && challenge == base64.RawURLEncoding.EncodeToString(sum[:]):
		return "the challenge is the S256 hash, but the authorize request did not send code_challenge_method=S256, so Entra treats it as plain"
	case challenge == base64.StdEncoding.EncodeToString(sum[:]) || challenge == base64.URLEncoding.EncodeToString(sum[:]) || challenge == base64.RawStdEncoding.EncodeToString(sum[:]):
		return "the challenge is the right hash in standard base64 or with padding; PKCE wants unpadded base64url"
	case strings.EqualFold(challenge, hex.EncodeToString(sum[:])):
		return "the challenge is the right hash written in hex; PKCE wants unpadded base64url"
	}
	return ""
}

// verifierShape checks RFC 7636's verifier syntax: 43 to 128 characters of
// A-Z a-z 0-9 - . _ ~.
func verifierShape(v string) string {
	if len(v) < 43 || len(v) > 128 {
		return fmt.Sprintf("the code_verifier is %d characters; RFC 7636 requires 43 to 128", len(v))
	}
	for _, r := range v {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return fmt.Sprintf("the code_verifier contains %q, outside the characters RFC 7636 allows", r)
		}
	}
	return ""
}
