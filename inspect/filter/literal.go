package filter

import (
	"bytes"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// literal is what a regex's syntax tree says about the text it must find,
// so that most flows are decided without running the regex: Go's regexp
// costs about a microsecond on a case-insensitive URL, a substring search a
// few dozen nanoseconds, and ~u runs over every flow of the recording.
type literal struct {
	// lit is lower-case ASCII that every match contains (ignoring case);
	// "" when the regex gives none, and the regex alone decides.
	lit string
	// exact: the regex is lit itself, anchored at begin and/or end, so the
	// search decides a match as well as a miss.
	exact      bool
	begin, end bool
	// lead holds the first UTF-8 bytes of the non-ASCII runes that fold to
	// a letter of lit (ſ for s, the Kelvin sign for k): a text with one of
	// them may match the regex where the ASCII search does not.
	lead []byte
}

// minRequired is the shortest literal worth a search before the regex.
const minRequired = 2

// analyze finds the literal of a case-insensitive regex (as compiled, with
// its (?i) prefix). It returns the zero literal for anything it does not
// understand.
func analyze(expr string) literal {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return literal{}
	}
	re = unwrap(re.Simplify())
	if s, ok := foldLiteral(re); ok {
		return newLiteral(s, true, false, false)
	}
	if re.Op != syntax.OpConcat {
		return literal{}
	}
	subs := re.Sub
	begin := len(subs) > 0 && subs[0].Op == syntax.OpBeginText
	if begin {
		subs = subs[1:]
	}
	end := len(subs) > 0 && subs[len(subs)-1].Op == syntax.OpEndText
	if end {
		subs = subs[:len(subs)-1]
	}
	if len(subs) == 1 {
		if s, ok := foldLiteral(unwrap(subs[0])); ok {
			return newLiteral(s, true, begin, end)
		}
	}
	best := ""
	for _, sub := range subs {
		if s, ok := foldLiteral(unwrap(sub)); ok && len(s) > len(best) {
			best = s
		}
	}
	if len(best) < minRequired {
		return literal{}
	}
	return newLiteral(best, false, false, false)
}

// unwrap strips capturing groups, which change nothing about matching.
func unwrap(re *syntax.Regexp) *syntax.Regexp {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	return re
}

// foldLiteral returns a case-insensitive literal of ASCII runes, lowered.
func foldLiteral(re *syntax.Regexp) (string, bool) {
	if re.Op != syntax.OpLiteral || re.Flags&syntax.FoldCase == 0 || len(re.Rune) == 0 {
		return "", false
	}
	b := make([]byte, len(re.Rune))
	for i, r := range re.Rune {
		if r >= utf8.RuneSelf {
			return "", false
		}
		b[i] = lower(byte(r))
	}
	return string(b), true
}

func newLiteral(s string, exact, begin, end bool) literal {
	l := literal{lit: s, exact: exact, begin: begin, end: end}
	for i := 0; i < len(s); i++ {
		r := rune(s[i])
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f >= utf8.RuneSelf {
				var buf [utf8.UTFMax]byte
				utf8.EncodeRune(buf[:], f)
				if bytes.IndexByte(l.lead, buf[0]) < 0 {
					l.lead = append(l.lead, buf[0])
				}
			}
		}
	}
	return l
}

// decide answers for the regex from the literal alone when it can: ok is
// false when the regex must run.
func decide[T string | []byte](l *literal, s T, indexByte func(T, byte) int) (match, ok bool) {
	if l.lit == "" {
		return false, false
	}
	var found bool
	switch {
	case !l.exact:
		found = containsFold(s, l.lit, indexByte)
	case l.begin && l.end:
		found = len(s) == len(l.lit) && equalFold(s, l.lit)
	case l.begin:
		found = len(s) >= len(l.lit) && equalFold(s[:len(l.lit)], l.lit)
	case l.end:
		found = len(s) >= len(l.lit) && equalFold(s[len(s)-len(l.lit):], l.lit)
	default:
		found = containsFold(s, l.lit, indexByte)
	}
	if found {
		// An ASCII match is a regex match too; a required literal still
		// needs the regex for the rest.
		return l.exact, l.exact
	}
	for _, c := range l.lead {
		if indexByte(s, c) >= 0 {
			return false, false // maybe a Unicode case variant: ask the regex
		}
	}
	return false, true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares s with lit (lower-case ASCII) ignoring ASCII case.
func equalFold[T string | []byte](s T, lit string) bool {
	for i := 0; i < len(lit); i++ {
		if lower(s[i]) != lit[i] {
			return false
		}
	}
	return true
}

// containsFold reports whether s contains lit (lower-case ASCII, not
// empty) ignoring ASCII case. It jumps between occurrences of lit's first
// byte in either case with indexByte, and looks at each byte of s at most
// once per case, so a 64 MiB body costs no more than two scans.
func containsFold[T string | []byte](s T, lit string, indexByte func(T, byte) int) bool {
	n := len(lit)
	last := len(s) - n // the last place lit can start
	lo := lit[0]
	up := lo
	if 'a' <= lo && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	next := func(from int, c byte) int {
		if k := indexByte(s[from:], c); k >= 0 {
			return from + k
		}
		return len(s)
	}
	nextLo, nextUp := -1, -1 // the next known place of each case, from i
	for i := 0; i <= last; {
		if nextLo < i {
			nextLo = next(i, lo)
		}
		j := nextLo
		if up != lo {
			if nextUp < i {
				nextUp = next(i, up)
			}
			j = min(j, nextUp)
		}
		if j > last {
			return false
		}
		if equalFold(s[j:j+n], lit) {
			return true
		}
		i = j + 1
	}
	return false
}
