package flow

import (
	"bytes"
	"compress/gzip"
	"testing"
)

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestDecodedIsComputedOnce(t *testing.T) {
	b := &Body{Raw: gzipped(t, "hello, entra"), Encoding: "gzip"}
	first, err := b.Decoded()
	if err != nil || string(first) != "hello, entra" {
		t.Fatalf("Decoded(): %q, %v", first, err)
	}
	second, _ := b.Decoded()
	if &first[0] != &second[0] {
		t.Errorf("Decoded() inflated the body again instead of using its cached view")
	}
	if got := b.DecodedLen(); got != len("hello, entra") {
		t.Errorf("DecodedLen() = %d, want %d", got, len("hello, entra"))
	}
}

func TestDecodedFollowsReplacedRaw(t *testing.T) {
	b := &Body{Raw: gzipped(t, "first"), Encoding: "gzip"}
	b.Decoded()
	b.Raw = gzipped(t, "second")
	if got, _ := b.Decoded(); string(got) != "second" {
		t.Errorf("after Raw was replaced, Decoded() = %q, want %q", got, "second")
	}
	b.Raw = b.Raw[:len(b.Raw)-4] // cut in place: same start, new length
	if _, err := b.Decoded(); err == nil {
		t.Errorf("after Raw was cut, Decoded() still served the whole body")
	}
}

func TestDecodedIdentityIsRaw(t *testing.T) {
	for _, enc := range []string{"", "identity"} {
		b := &Body{Raw: []byte("plain"), Encoding: enc}
		got, err := b.Decoded()
		if err != nil || &got[0] != &b.Raw[0] {
			t.Errorf("Decoded() with encoding %q: %q, %v; want Raw itself", enc, got, err)
		}
		if b.DecodedLen() != 0 {
			t.Errorf("DecodedLen() with encoding %q = %d, want 0: nothing beyond Raw is held", enc, b.DecodedLen())
		}
	}
}

func TestWithoutBytes(t *testing.T) {
	b := Body{Raw: gzipped(t, "secret"), Size: 26, Encoding: "gzip"}
	b.Decoded()
	s := b.WithoutBytes()
	if s.Raw != nil || !s.Truncated || s.Size != 26 || s.Encoding != "gzip" || s.DecodedLen() != 0 {
		t.Errorf("WithoutBytes() = %+v, want no bytes, no decoded view, size and encoding kept, marked truncated", s)
	}
	if got, _ := s.Decoded(); got != nil {
		t.Errorf("WithoutBytes().Decoded() = %q, want nothing", got)
	}
	if b.Raw == nil || b.DecodedLen() == 0 {
		t.Errorf("WithoutBytes changed its receiver")
	}
	if e := (Body{}).WithoutBytes(); e.Truncated {
		t.Errorf("an empty body became truncated")
	}
}
