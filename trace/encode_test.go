package trace

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// encodeBody writes t through an encoder with an output, as the recorder
// does, and returns the JSON string it wrote.
func encodeBody(t bodyText) []byte {
	var out bytes.Buffer
	enc := &encoder{out: &out}
	enc.body(t)
	enc.flush()
	return out.Bytes()
}

// FuzzAppendString checks the hand-written escaper against encoding/json on
// any input, at every alignment of the word-at-a-time scan.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text!", `a"b\c`, "é\x00\x1f\x7f", "\xff\xfe", "\u2028x\u2029", "12345678\"12345678\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for shift := 0; shift < 8 && shift <= len(s); shift++ {
			in := s[shift:]
			var got, want string
			if err := json.Unmarshal(appendString(nil, in), &got); err != nil {
				t.Fatalf("appendString(%q) is not valid JSON: %v", in, err)
			}
			std, _ := json.Marshal(in)
			json.Unmarshal(std, &want)
			if got != want {
				t.Fatalf("appendString(%q) decodes to %q, want %q", in, got, want)
			}
		}
	})
}

// TestBodyChunksKeepRunesWhole writes text whose multi-byte runes straddle
// every chunk boundary; the chunks must join into the same string.
func TestBodyChunksKeepRunesWhole(t *testing.T) {
	for prefix := 0; prefix < 4; prefix++ {
		text := strings.Repeat("x", prefix) + strings.Repeat("€🙂é\"", 3*bodyChunk/11)
		var got string
		if err := json.Unmarshal(encodeBody(newBodyText([]byte(text))), &got); err != nil {
			t.Fatalf("prefix %d: not valid JSON: %v", prefix, err)
		}
		if got != text {
			t.Errorf("prefix %d: the text came back changed (%d bytes, want %d)", prefix, len(got), len(text))
		}
	}
}

// TestBodyBase64Chunks checks that base64 written a chunk at a time is one
// valid encoding of the whole body, for every length around a boundary.
func TestBodyBase64Chunks(t *testing.T) {
	for _, n := range []int{1, 2, 3, bodyChunk - 1, bodyChunk, bodyChunk + 1, 2*bodyChunk + 2} {
		data := bytes.Repeat([]byte{0, 0xff, 7}, n/3+1)[:n]
		tx := newBodyText(data)
		if !tx.base64 || tx.encoding() != "base64" {
			t.Fatalf("%d binary bytes: not chosen for base64", n)
		}
		var s string
		if err := json.Unmarshal(encodeBody(tx), &s); err != nil {
			t.Fatalf("%d bytes: not valid JSON: %v", n, err)
		}
		got, err := base64.StdEncoding.DecodeString(s)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: base64 does not decode to the body (%v)", n, err)
		}
	}
}

func TestIsText(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", true}, {"plain text, long enough for a word or two", true}, {"tab\tcr\rlf\nff\f", true},
		{"é 漢字 🙂", true}, {"twelve bytes\x00", false}, {"\x01", false}, {"0123456789abcdef\x1b", false},
		{"bad \xff", false}, {"\x7f is DEL, printable enough", true},
	}
	for _, tt := range tests {
		if got := isText([]byte(tt.in)); got != tt.want {
			t.Errorf("isText(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
