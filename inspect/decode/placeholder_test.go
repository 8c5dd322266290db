package decode

import "testing"

func TestParsePlaceholder(t *testing.T) {
	s256 := "J6P0NtUFZuus1wbA7S6i7weKErIt-1lj1hiHH0W-pKQ"
	tests := []struct {
		in   string
		want Placeholder
		ok   bool
	}{
		{FormatPlaceholder(23, "73d9cd", ""), Placeholder{Len: 23, Hash: "73d9cd"}, true},
		{FormatPlaceholder(43, "c4c90e", s256), Placeholder{Len: 43, Hash: "c4c90e", S256: s256}, true},
		{"REDACTED_len1234_h3fa9c2_", Placeholder{Len: 1234, Hash: "3fa9c2"}, true},
		{"REDACTED", Placeholder{}, false},
		{"REDACTED(len=3,h=abcdef)", Placeholder{}, false},
		{"REDACTED_len12_hXYZ123", Placeholder{}, false},
		{"0.AV8A-real-refresh-token", Placeholder{}, false},
	}
	for _, tt := range tests {
		got, ok := ParsePlaceholder(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParsePlaceholder(%q): got %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
