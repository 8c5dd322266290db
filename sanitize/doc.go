// Package sanitize removes secrets from recorded traffic so a trace can be
// handed to support, while keeping what a support engineer needs to read it:
// status codes, AADSTS errors with their trace and correlation IDs,
// timestamps, request IDs, cookie names and attributes, state, nonce,
// client_id, redirect_uri, scope and the non-personal claims of tokens.
//
// It owns the redaction policy (which names, headers, cookies and claims are
// secret), the placeholders that replace secrets, Flow (one flow.Flow),
// HARFile (a whole HAR, streamed), FlowsFile (a SAZ or any trace, flow by
// flow) and Check (a scan for secrets left in a HAR or SAZ). It reads
// traces through trace/ and never imports proxy/ or inspect/; it must not
// write anywhere but the output path it is given (no temporary copy).
//
// # Placeholders
//
// A secret becomes REDACTED_lenN_hXXXXXX: its length in bytes and the first
// six hex digits of HMAC-SHA256(Options.Key, value). The same secret gets
// the same placeholder everywhere in a run, so "is this the same cookie as
// before?" can still be answered, while the keyed hash cannot be reversed or
// brute-forced without the key. Placeholders use only letters, digits and
// "_": they need no escaping in a URL, a form, a cookie, JSON, HTML or a
// base64url JWT segment, and hold none of the separators (= & ; , :) that
// would let a later parse split them, so sanitizing is idempotent.
//
// A PKCE code_verifier keeps, in addition, the S256 of its value
// (REDACTED_len43_hXXXXXX_s256_…): the verifier is a secret until the code
// is redeemed, but its S256 is what the authorize request's code_challenge
// must equal, and that is already public in the authorize URL. A PKCE rule
// can compare the two with ParsePlaceholder.
//
// A JWT keeps its shape: the header keeps its algorithm fields (alg, typ,
// kid, x5t, …), the payload keeps the claims listed in Options.KeepClaims,
// every other claim value becomes a placeholder (or a pseudonym), and the
// signature becomes a placeholder padded to valid base64url, so JWT tools
// still open the token. Such a token can no longer be replayed.
//
// # Secret by position and shape, not by a word in a name
//
// A value is replaced for what it is: a token answer's access_token,
// refresh_token and id_token, a credential form field, a cookie value, an
// Authorization credential, a JWT's signature, or a long random value
// under a name that says nothing. A name that merely contains "token" or
// "key" decides nothing: token_endpoint, token_endpoint_auth_methods_supported
// and id_token_signing_alg_values_supported name endpoints and algorithms,
// so OpenID discovery and instance-discovery documents come out byte for
// byte. A name decides only when it ends with the noun (accessToken,
// X-CSRF-Token, X-Api-Key). A JSON Web Key (an object with kty) keeps its
// public parameters (n, e, x, y, kid, x5t, and x5c certificates) and loses
// its private ones (d, p, q, dp, dq, qi, oth, k), so a JWKS survives too;
// an X.509 certificate is public wherever it appears.
//
// # Cookies
//
// Every cookie value is replaced except those of a short list of cookies
// known to carry no secret (x-ms-gateway-slice, stsservicecookie, brcap, …),
// empty values, and values of at most four characters (flags such as "1").
// That covers ESTSAUTH*, x-ms-RefreshTokenCredential, buid, fpc, esctx and the
// application's own session cookies without having to know their names.
//
// # Pseudonyms
//
// With Options.Pseudonymize, e-mail addresses and UPNs anywhere in the trace
// become user-XXXXXX@domain: the local part is replaced by a keyed hash and
// the domain is kept, because the domain is what tenant and home-realm
// problems turn on. Display names in token claims and in known JSON fields
// become Person-XXXXXX. Names that appear only in free text are not found.
package sanitize
