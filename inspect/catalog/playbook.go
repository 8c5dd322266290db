package catalog

// The playbooks are Markdown so that the same text serves `aadproxy explain`
// in a terminal, the web UI, and anyone reading the repository. They are
// embedded so the binary needs no files next to it.

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
)

//go:embed playbooks/*.md
var playbookFS embed.FS

// playbookIndex maps each code to its playbook file name. It is built once
// because the embedded directory never changes at run time.
var playbookIndex = sync.OnceValue(func() map[int]string {
	idx := make(map[int]string)
	entries, err := fs.ReadDir(playbookFS, "playbooks")
	if err != nil {
		// The embed pattern guarantees the directory exists; an error here
		// would be a build problem, which the tests catch.
		return idx
	}
	for _, e := range entries {
		name := e.Name()
		stem, ok := strings.CutSuffix(name, ".md")
		if !ok {
			continue
		}
		code, err := parseDigits(stem)
		if err != nil {
			continue
		}
		idx[code] = path.Join("playbooks", name)
	}
	return idx
})

// Playbook returns the Markdown playbook for code, if we have one.
func Playbook(code int) (string, bool) {
	name, ok := playbookIndex()[code]
	if !ok {
		return "", false
	}
	b, err := playbookFS.ReadFile(name)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// PlaybookCodes lists the codes that have playbooks, ascending.
func PlaybookCodes() []int {
	idx := playbookIndex()
	codes := make([]int, 0, len(idx))
	for c := range idx {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// maxCodeDigits bounds the numeric part of a code. Real codes have at most
// seven digits today; nine leaves room for growth and can never overflow int.
const maxCodeDigits = 9

var errEmptyCode = errors.New("empty code")

// ParseCode accepts "AADSTS50143", "aadsts50143", "50143" (and surrounding
// spaces); error otherwise.
func ParseCode(s string) (int, error) {
	t := strings.TrimSpace(s)
	if len(t) >= len("AADSTS") && strings.EqualFold(t[:len("AADSTS")], "AADSTS") {
		t = t[len("AADSTS"):]
	}
	code, err := parseDigits(t)
	if err != nil {
		return 0, fmt.Errorf("parse AADSTS code %q: %w", s, err)
	}
	return code, nil
}

// parseDigits accepts only ASCII digits, so that signs, spaces inside the
// code and Unicode digits, which strconv or a lenient scanner might let
// through, are rejected.
func parseDigits(s string) (int, error) {
	if s == "" {
		return 0, errEmptyCode
	}
	if len(s) > maxCodeDigits {
		return 0, fmt.Errorf("more than %d digits", maxCodeDigits)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("unexpected character %q", s[i])
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("code must be positive")
	}
	return n, nil
}

// Explain writes what aadproxy knows about code to w: the catalog line (code,
// name, category) and the playbook when there is one. For a code without a
// playbook it names the code and points to Microsoft's lookup page; for a
// code not in the catalog it says so and points to the same page. It returns
// known=false for codes not in the catalog; err reports only write failures.
func Explain(w io.Writer, code int) (known bool, err error) {
	var b strings.Builder
	entry, known := Lookup(code)
	if known {
		fmt.Fprintf(&b, "AADSTS%d %s (category: %s)\n", code, entry.Name, entry.Category)
		if entry.Ours {
			// Say so, because searching Microsoft's docs for this name finds nothing.
			b.WriteString("The name is aadproxy's own: Microsoft publishes no identifier for this code.\n")
		}
	} else {
		fmt.Fprintf(&b, "AADSTS%d is unknown to aadproxy: it is not in the catalog.\n", code)
		b.WriteString("Entra emits codes that no published list has, so the code can still be genuine.\n")
	}
	if pb, ok := Playbook(code); ok {
		b.WriteString("\n")
		b.WriteString(pb)
		if !strings.HasSuffix(pb, "\n") {
			b.WriteString("\n")
		}
	} else {
		if known {
			if entry.Hint != "" {
				fmt.Fprintf(&b, "Hint: %s\n", entry.Hint)
			}
			b.WriteString("aadproxy has no playbook for this code yet.\n")
		}
		fmt.Fprintf(&b, "Microsoft's lookup page: %s\n", ErrorURL(code))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return known, fmt.Errorf("explain AADSTS%d: %w", code, err)
	}
	return known, nil
}
