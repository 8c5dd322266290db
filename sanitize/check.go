package sanitize

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/trace"
)

// checkKey keys Check's throw-away placeholders; they are never shown.
var checkKey = []byte("aadproxy sanitize --check, not a secret")

// Check lists the secret-looking values left in the trace at path (a HAR,
// or a SAZ read flow by flow as FlowsFile sanitizes it): signed
// JWTs, refresh tokens and other opaque Entra tokens, authorization codes,
// passwords, client secrets and assertions, session cookie values,
// Authorization credentials, flow tokens and canaries, SAML signatures and
// attribute values, and long random values under names that say nothing.
// It runs the same policy as HARFile (FlowsFile for a SAZ) and reports what
// it would replace, so a file either wrote has no findings; personal data
// that is not a secret (addresses, names, non-secret claims) is not
// reported. Memory is bounded by one entry or flow, with the trace readers'
// caps on bodies, and nothing is written anywhere.
//
// On a damaged file it returns the findings from the entries before the
// damage together with the error.
func Check(path string) ([]Finding, error) {
	format, err := trace.Format(path)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", path, err)
	}
	rec := &recorder{}
	s := newSanitizer(Options{Key: checkKey}.Default(), rec)
	s.detect, s.share = true, true
	if format == trace.FormatSAZ {
		_, _, err = trace.Open(path, func(i int, f *flow.Flow) error {
			s.entry = i
			s.flow(f)
			return nil
		})
	} else {
		var f *os.File
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("check %s: %w", path, err)
		}
		defer f.Close()
		err = s.checkHAR(f)
	}
	var out []Finding
	for _, it := range rec.items {
		if notSecret[it.kind] {
			continue
		}
		out = append(out, Finding{Entry: it.entry, Location: it.loc, Kind: it.kind, Sample: it.sample})
	}
	if err != nil {
		return out, fmt.Errorf("check %s: %w", path, err)
	}
	return out, nil
}

func (s *sanitizer) checkHAR(src io.Reader) error {
	r, err := trace.NewReader(src)
	if err != nil {
		return err
	}
	noop := func(string, any) error { return nil }
	s.entry = -1
	head := r.Log()
	if err := s.logFields(head, map[string]bool{}, noop, false); err != nil {
		return err
	}
	for n := 0; ; n++ {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if e == nil {
			continue
		}
		s.entry = n
		s.entryCopy(e)
	}
	// Pages and comments that came after the entries.
	s.entry = -1
	l := r.Log()
	if len(head.Pages) > 0 {
		l.Pages = nil
	}
	if head.Browser != nil {
		l.Browser = nil
	}
	return s.logFields(l, map[string]bool{"version": true, "creator": true}, noop, true)
}
