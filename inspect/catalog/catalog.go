// Package catalog owns aadproxy's knowledge of AADSTS error codes: the code
// table (names and our own categories, embedded from aadsts_codes.tsv), a
// default severity per code and a one-line hint for the codes people hit most.
//
// It is pure data with lookups: it must not import the engine, the decoders
// or anything that touches the network, so that every part of aadproxy (rules,
// the explain command, the UI) can read it. The playbooks in playbooks/ and
// playbook.go belong to their own author and are not edited from here.
package catalog

import (
	_ "embed"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Severities an Entry can carry. They are strings rather than the engine's
// inspect.Severity so that this package stays free of engine imports.
const (
	SeverityInfo    = "info"
	SeverityWarning = "warning"
	SeverityError   = "error"
)

// Entry is what aadproxy knows about one AADSTS code.
type Entry struct {
	Code     int
	Name     string // identifier without the "~" marker, e.g. "SessionMismatch"
	Category string // our own grouping, e.g. "session"
	// Ours reports that the name was coined by aadproxy because Microsoft's
	// table gives no identifier (or does not list the code at all).
	Ours     bool
	Severity string // SeverityInfo, SeverityWarning or SeverityError
	Hint     string // one line in our own words, "" if we have none
}

//go:embed aadsts_codes.tsv
var codesTSV string

// table is parsed once: the embedded file never changes at run time, and
// lookups happen for every error in every flow.
var table = sync.OnceValues(func() (map[int]Entry, []Entry) {
	byCode := make(map[int]Entry)
	var all []Entry
	for i, line := range strings.Split(codesTSV, "\n") {
		line = strings.TrimRight(line, "\r")
		if i == 0 || line == "" {
			continue // header
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 3 {
			continue
		}
		code, err := strconv.Atoi(cols[0])
		if err != nil || code <= 0 {
			continue
		}
		name, ours := strings.CutPrefix(cols[1], "~")
		e := Entry{
			Code:     code,
			Name:     name,
			Category: cols[2],
			Ours:     ours,
			Severity: defaultSeverity(code),
			Hint:     hints[code],
		}
		if _, dup := byCode[code]; dup {
			continue
		}
		byCode[code] = e
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b Entry) int { return a.Code - b.Code })
	return byCode, all
})

// Lookup returns the catalog entry for code. Entra emits codes that no
// published list has, so a miss is normal and callers should still report the
// code.
func Lookup(code int) (Entry, bool) {
	byCode, _ := table()
	e, ok := byCode[code]
	return e, ok
}

// All returns every entry, ordered by code. The slice is a copy.
func All() []Entry {
	_, all := table()
	return slices.Clone(all)
}

// ErrorURL returns Microsoft's lookup page for code, the same page Entra
// links in error_uri.
func ErrorURL(code int) string {
	return "https://login.microsoftonline.com/error?code=" + strconv.Itoa(code)
}

// defaultSeverity is the severity of a code seen without context. Most codes
// end a sign-in, so error is the default. A few are routine steps of healthy
// sign-ins, and flagging them as errors would bury the real problem in noise:
//
//   - info: the code is a normal step the client is designed to handle
//     without anyone noticing — device-code polling (70016) and the
//     interrupt pages Entra shows inside an interactive sign-in (stay signed
//     in, consent prompt, MFA or password-reset registration nudges).
//   - warning: the client has to fall back to an interactive prompt. That is
//     healthy for a browser app (silent SSO found no session, MFA step-up,
//     account picker) but it is exactly what breaks a headless client, so it
//     stays visible.
//
// 65001 (no consent) is deliberately left at error: it is healthy only when
// an interactive retry can answer it, which is the case after a silent
// authorize request; on the token endpoint (OBO, client credentials, ROPC)
// nothing can answer it. Rules lower it when the context shows the silent
// case.
func defaultSeverity(code int) string {
	switch code {
	case 70016, // authorization_pending: device-code polling
		50072, // MFA enrollment interrupt shown during sign-in
		50074, // MFA interrupt shown during sign-in
		50125, // password-reset registration interrupt
		50140, // "stay signed in?" page
		50199: // "are you trying to sign in to ...?" confirmation page
		return SeverityInfo
	case 16000, // interaction required: the client must show UI
		16001, // account selection: the user must pick an account
		50058, // login_required to a silent request
		50076, // MFA step-up
		50078, // MFA claim too old: step-up again
		50079, // MFA registration required
		50097, // device authentication challenge (PKeyAuth) the client answers
		70043: // sign-in frequency reached: re-authenticate
		return SeverityWarning
	}
	return SeverityError
}
