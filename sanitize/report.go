package sanitize

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Kinds of redaction, as found in Redaction.Kind and Finding.Kind.
const (
	KindPassword      = "password"           // passwd, password, WS-Trust Password
	KindClientSecret  = "client-secret"      // client_secret and other named secrets of apps
	KindCode          = "authorization-code" // code, device_code, otc
	KindRefreshToken  = "refresh-token"      // refresh_token, and 0.A…/1.A… tokens in free text
	KindAccessToken   = "access-token"       // access_token
	KindIDToken       = "id-token"           // id_token, id_token_hint
	KindAssertion     = "assertion"          // client_assertion, assertion
	KindJWT           = "jwt"                // a signed JWT found in free text
	KindToken         = "token"              // other named or opaque tokens
	KindCodeVerifier  = "code-verifier"      // PKCE code_verifier (its S256 is kept)
	KindCookie        = "cookie"             // cookie values
	KindAuthorization = "authorization"      // Authorization and Proxy-Authorization credentials
	KindFlowToken     = "flow-token"         // flowToken, sFT, sCtx, ctx
	KindCanary        = "canary"             // canary, apiCanary
	KindSAML          = "saml"               // SAML signatures, digests, attribute values, NameID
	KindSecret        = "secret"             // other secret names, and values that look like secrets
	KindBody          = "opaque-body"        // a body that could not be decoded, or binary data
	KindPersonal      = "personal"           // token claims and identifiers that are not secrets
	KindEmail         = "email"              // pseudonymized e-mail address or UPN
	KindName          = "name"               // pseudonymized display name
)

// notSecret are the kinds that remove personal data or opaque data rather
// than credentials; Check does not report them.
var notSecret = map[string]bool{KindBody: true, KindPersonal: true, KindEmail: true, KindName: true}

// Redaction is one value that was replaced.
type Redaction struct {
	// Entry is the 0-based index of the HAR entry or flow; -1 for the log
	// itself (page titles, the log comment).
	Entry int `json:"entry"`
	// Location says where the value was, e.g.
	// "request.headers[Cookie]: ESTSAUTH" or "response.content: json refresh_token".
	Location string `json:"location"`
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
}

// Report lists what was redacted and where, in the order it was found.
type Report struct {
	Items []Redaction `json:"items"`
}

// LocationClass returns the part of a location before its first detail:
// "request.headers" for "request.headers[Cookie]: ESTSAUTH".
func LocationClass(loc string) string {
	if i := strings.IndexAny(loc, "[: "); i >= 0 {
		return loc[:i]
	}
	return loc
}

// Summary returns a human summary: how many values were redacted in how many
// entries, then one line per kind with its count and where they were.
func (r Report) Summary() string {
	if len(r.Items) == 0 {
		return "nothing redacted\n"
	}
	type kindStat struct {
		kind    string
		n       int
		classes map[string]int
	}
	byKind := map[string]*kindStat{}
	entries := map[int]bool{}
	for _, it := range r.Items {
		entries[it.Entry] = true
		k := byKind[it.Kind]
		if k == nil {
			k = &kindStat{kind: it.Kind, classes: map[string]int{}}
			byKind[it.Kind] = k
		}
		k.n++
		k.classes[LocationClass(it.Location)]++
	}
	stats := make([]*kindStat, 0, len(byKind))
	for _, k := range byKind {
		stats = append(stats, k)
	}
	slices.SortFunc(stats, func(a, b *kindStat) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.kind, b.kind))
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%d values redacted in %d entries\n", len(r.Items), len(entries))
	for _, k := range stats {
		classes := make([]string, 0, len(k.classes))
		for c := range k.classes {
			classes = append(classes, c)
		}
		slices.SortFunc(classes, func(a, b string) int {
			return cmp.Or(cmp.Compare(k.classes[b], k.classes[a]), cmp.Compare(a, b))
		})
		parts := make([]string, len(classes))
		for i, c := range classes {
			parts[i] = fmt.Sprintf("%s %d", c, k.classes[c])
		}
		fmt.Fprintf(&b, "  %-20s %5d  (%s)\n", k.kind, k.n, strings.Join(parts, ", "))
	}
	return b.String()
}

// Finding is a secret-looking value that Check found in a HAR.
type Finding struct {
	Entry    int    `json:"entry"`
	Location string `json:"location"`
	Kind     string `json:"kind"`
	// Sample is the start of the value followed by "…": six characters,
	// fewer for short values so a short password is not given away.
	Sample string `json:"sample"`
}

func (f Finding) String() string {
	return fmt.Sprintf("entry %d: %s: %s %s", f.Entry, f.Location, f.Kind, f.Sample)
}

// sample returns the first characters of v: six, or a quarter of v when
// that is fewer.
func sample(v string) string {
	n := min(6, utf8.RuneCountInString(v)/4)
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(v[i:])
		i += size
	}
	return v[:i] + "…"
}

// record is a redaction with a sample of the value it removed, kept only
// in memory (for Check). Only the sample is kept, in a string of its own:
// the value may be a slice of a whole body, which would otherwise stay
// alive until the end of the trace.
type record struct {
	entry  int
	loc    string
	kind   string
	sample string
}

// recorder collects records; a nil recorder drops them.
type recorder struct {
	items []record
}

func (r *recorder) add(entry int, loc, kind, orig string) {
	if r == nil {
		return
	}
	r.items = append(r.items, record{entry: entry, loc: loc, kind: kind, sample: strings.Clone(sample(orig))})
}

func (r *recorder) appendTo(rep *Report) {
	if r == nil || rep == nil {
		return
	}
	for _, it := range r.items {
		rep.Items = append(rep.Items, Redaction{Entry: it.entry, Location: it.loc, Kind: it.kind})
	}
}
