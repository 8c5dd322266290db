package sanitize_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/sanitize"
)

// flowText is every string a flow holds, bodies decoded where they can be.
func flowText(f *flow.Flow) string {
	var b strings.Builder
	add := func(s ...string) {
		for _, x := range s {
			b.WriteString(x)
			b.WriteByte('\n')
		}
	}
	add(f.Error)
	if r := f.Request; r != nil {
		add(r.Method, r.URL)
		for _, h := range r.Header {
			add(h.Name, h.Value)
		}
		add(string(r.Body.Raw))
		if d, err := r.Body.Decoded(); err == nil {
			add(string(d))
		}
	}
	if r := f.Response; r != nil {
		for _, h := range r.Header {
			add(h.Name, h.Value)
		}
		add(string(r.Body.Raw))
		if d, err := r.Body.Decoded(); err == nil {
			add(string(d))
		}
	}
	return b.String()
}

func TestFlowRemovesCanariesAndDoesNotMutate(t *testing.T) {
	o := sanitize.Options{Key: testKey, Pseudonymize: true}
	for i, f := range fixtureFlows() {
		pristine := fixtureFlows()[i]
		var rep sanitize.Report
		out := sanitize.Flow(f, o, &rep)
		if !reflect.DeepEqual(f, pristine) {
			t.Errorf("flow %d: Flow changed its input", i)
		}
		if got := survivors(flowText(out), canariesFor(o)); len(got) > 0 {
			t.Errorf("flow %d: canaries survived: %v", i, got)
		}
		for _, it := range rep.Items {
			if it.Entry != i {
				t.Errorf("flow %d: redaction %v has entry %d", i, it, it.Entry)
			}
		}
		// Sanitizing twice changes nothing more.
		var again sanitize.Report
		out2 := sanitize.Flow(out, o, &again)
		if !reflect.DeepEqual(out, out2) || len(again.Items) != 0 {
			t.Errorf("flow %d: second pass changed the flow or redacted %v", i, again.Items)
		}
	}
	// The fixture plants secrets in every flow but 7 (a silent error).
	var rep sanitize.Report
	for _, f := range fixtureFlows() {
		sanitize.Flow(f, o, &rep)
	}
	if len(rep.Items) < 50 {
		t.Errorf("Flow redacted only %d values over the fixture", len(rep.Items))
	}
}

func TestFlowBodies(t *testing.T) {
	f := fixtureFlows()[0]
	f.Response.Body = flow.Body{Raw: []byte("<html>nothing secret</html>"), Size: 27}
	out := sanitize.Flow(f, sanitize.Options{Key: testKey}, nil)
	if !reflect.DeepEqual(out.Response.Body, f.Response.Body) {
		t.Errorf("Flow: a clean body became %+v, want %+v", out.Response.Body, f.Response.Body)
	}
	// Encoded bodies come back decoded, so no undecoded byte is kept.
	f.Response.Body = flow.Body{Raw: append(gz("<html>nothing secret</html>"), "trailing passwd=x"...), Encoding: "gzip", Size: 40}
	out = sanitize.Flow(f, sanitize.Options{Key: testKey}, nil)
	if got := string(out.Response.Body.Raw); got != "<html>nothing secret</html>" || out.Response.Body.Encoding != "" {
		t.Errorf("Flow: a gzip body with trailing bytes became %q (encoding %q)", got, out.Response.Body.Encoding)
	}
	f.Response.Body = flow.Body{Raw: []byte("not gzip at all"), Encoding: "gzip", Size: 15}
	out = sanitize.Flow(f, sanitize.Options{Key: testKey}, nil)
	if got := string(out.Response.Body.Raw); !strings.HasPrefix(got, "REDACTED_len15_h") || out.Response.Body.Encoding != "" {
		t.Errorf("Flow: an undecodable body became %q (encoding %q), want a placeholder", got, out.Response.Body.Encoding)
	}
	if sanitize.Flow(nil, sanitize.Options{}, nil) != nil {
		t.Error("Flow(nil) is not nil")
	}
}

func TestPKCEPlaceholderCarriesS256(t *testing.T) {
	f := fixtureFlows()[4]
	out := sanitize.Flow(f, sanitize.Options{Key: testKey}, nil)
	body := string(out.Request.Body.Raw)
	_, rest, ok := strings.Cut(body, "code_verifier=")
	if !ok {
		t.Fatalf("no code_verifier in %q", body)
	}
	v, _, _ := strings.Cut(rest, "&")
	p, ok := sanitize.ParsePlaceholder(v)
	if !ok {
		t.Fatalf("ParsePlaceholder(%q): not a placeholder", v)
	}
	if p.S256 != s256(cVerifier) || p.Len != len(cVerifier) {
		t.Errorf("ParsePlaceholder(%q) = %+v, want S256 %s and Len %d", v, p, s256(cVerifier), len(cVerifier))
	}
}
