package decode

import (
	"strings"
	"testing"
)

func TestParseClientInfo(t *testing.T) {
	// The first sample is the one in ENTRA.md (MSAL's TEST_DATA_CLIENT_INFO).
	tests := []struct {
		in       string
		uid      string
		utid     string
		wantErr  string
		homeAcct string
	}{
		{"eyJ1aWQiOiIwMDAwMDAwMC0wMDAwLTAwMDAtNjZmMy0zMzMyZWNhN2VhODEiLCJ1dGlkIjoiMzMzODA0MGQtNmM2Ny00YzViLWIxMTItMzZhMzA0YjY2ZGFkIn0",
			"00000000-0000-0000-66f3-3332eca7ea81", "3338040d-6c67-4c5b-b112-36a304b66dad", "", "00000000-0000-0000-66f3-3332eca7ea81.3338040d-6c67-4c5b-b112-36a304b66dad"},
		{"eyJ1aWQiOiJ4IiwidXRpZCI6InkifQ==", "x", "y", "", "x.y"}, // padded
		{"eyJ1aWQiOiJ4IiwidXRpZCI6InkifQ", "x", "y", "", "x.y"},   // unpadded
		{"eyJ1aWQiOiJ4In0", "x", "", "", "x."},
		{"", "", "", "empty", ""},
		{"e30", "", "", "no uid or utid", ""},
		{"WzFd", "", "", "not a JSON object", ""},
		{"%%%", "", "", "not base64url", ""},
		{"eyJ1aWQiOjF9", "", "", "no uid or utid", ""}, // {"uid":1}
	}
	for _, tt := range tests {
		got, err := ParseClientInfo(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseClientInfo(%q): got %+v, %v, want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.UID != tt.uid || got.UTID != tt.utid || got.HomeAccountID() != tt.homeAcct {
			t.Errorf("ParseClientInfo(%q): got %+v, %v, want uid %q utid %q", tt.in, got, err, tt.uid, tt.utid)
		}
	}
}

func FuzzParseClientInfo(f *testing.F) {
	for _, s := range []string{"eyJ1aWQiOiJ4IiwidXRpZCI6InkifQ==", "eyJ1aWQiOiJ4IiwidXRpZCI6InkifQ", "e30", "", "bnVsbA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ci, err := ParseClientInfo(s)
		if err == nil && ci.UID == "" && ci.UTID == "" {
			t.Fatalf("ParseClientInfo(%q): empty result without an error", s)
		}
		if err != nil && ci != (ClientInfo{}) {
			t.Fatalf("ParseClientInfo(%q): got %+v with error %v", s, ci, err)
		}
	})
}
