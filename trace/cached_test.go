package trace

import (
	"fmt"
	"strings"
	"testing"
)

// TestCachedBy reads how each browser's HAR marks an answer its cache gave
// (its headers, the Date among them, are the stored ones), and checks that
// a converted flow still says so.
func TestCachedBy(t *testing.T) {
	const resp = `"response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[{"name":"Date","value":"Tue, 28 May 2024 09:00:00 GMT"}],"cookies":[],"content":{"size":0,"mimeType":"text/plain"},"redirectURL":"","headersSize":-1,"bodySize":0%s}`
	entry := func(extra, respExtra, cache string) string {
		return fmt.Sprintf(`{"startedDateTime":"2024-06-01T12:00:00.000Z","time":1,"request":{"method":"GET","url":"https://www.example.com/a.js","httpVersion":"HTTP/1.1","headers":[],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},`+resp+`,"cache":%s,"timings":{"send":0,"wait":1,"receive":0}%s}`, respExtra, cache, extra)
	}
	tests := []struct {
		name, entry, want string
	}{
		{"chrome memory", entry(`,"_fromCache":"memory"`, "", "{}"), "memory"},
		{"chrome disk", entry(`,"_fromCache":"disk"`, "", "{}"), "disk"},
		{"chrome service worker", entry("", `,"_fetchedViaServiceWorker":true`, "{}"), "service-worker"},
		{"chrome network", entry(`,"_priority":"High"`, `,"_fetchedViaServiceWorker":false`, "{}"), ""},
		{"webkit disk", entry(`,"_fetchType":"Disk Cache"`, "", "{}"), "disk"},
		{"webkit network", entry(`,"_fetchType":"Network Load"`, "", "{}"), ""},
		{"firefox cache", entry("", "", `{"afterRequest":{"expires":"2024-06-08T12:00:00.000Z","lastAccess":"2024-06-01T12:00:00.000Z","eTag":"","hitCount":3}}`), "cache"},
		{"firefox network", entry("", "", "{}"), ""},
		{"odd marker", entry(`,"_fromCache":false`, "", "{}"), ""},
	}
	for _, tt := range tests {
		doc := `{"log":{"version":"1.2","creator":{"name":"t","version":"1"},"entries":[` + tt.entry + `]}}`
		rd, err := NewReader(strings.NewReader(doc))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		e, err := rd.Next()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		f, err := FlowFromEntry(e, 0)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if f.Cached != tt.want {
			t.Errorf("%s: Cached = %q, want %q", tt.name, f.Cached, tt.want)
		}
		if tt.want == "" {
			continue
		}
		back, err := FlowFromEntry(EntryFromFlow(f), 0)
		if err != nil {
			t.Fatal(err)
		}
		if back.Cached != tt.want {
			t.Errorf("%s: after a write and read, Cached = %q, want %q", tt.name, back.Cached, tt.want)
		}
	}
}
