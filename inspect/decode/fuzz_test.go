package decode

import (
	"testing"

	"github.com/aadproxy/aadproxy/flow"
)

// The fuzz targets only assert that decoders never panic and keep their
// invariants on arbitrary input; the seeds are the real-shaped samples.

func checkInvariants(t *testing.T, e *AADSTSError) {
	t.Helper()
	if e == nil {
		return
	}
	seen := map[int]bool{}
	for _, c := range e.Codes {
		if c <= 0 || seen[c] {
			t.Fatalf("codes %v: want positive and unique", e.Codes)
		}
		seen[c] = true
	}
	if e.Source == "" {
		t.Fatalf("error without source: %+v", e)
	}
}

func FuzzParseTokenError(f *testing.F) {
	for _, s := range []string{sampleV1MultiCode, sampleROPC50076, sampleMSALNoSeparator, sampleCABlock, sampleMFAClaims, samplePending, sampleSuccessV2, sampleSuccessV1, `{"error":{"code":"x","message":"AADSTS1"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseTokenError(b)
		if (e == nil) == (err == nil) {
			t.Fatalf("ParseTokenError: got (%v, %v), want exactly one of them", e, err)
		}
		checkInvariants(t, e)
	})
}

func FuzzParseRedirectError(f *testing.F) {
	for _, s := range []string{sampleRedirect50105, sampleFragment700051, sampleFragment50058, sampleCancel, "https://x/cb?code=1&state=2", "/cb?state=%zz&error=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseRedirectError(s)
		if (e == nil) == (err == nil) {
			t.Fatalf("ParseRedirectError: got (%v, %v), want exactly one of them", e, err)
		}
		checkInvariants(t, e)
	})
}

func FuzzParseFormPost(f *testing.F) {
	for _, s := range []string{sampleFormPostError, sampleFormPostCode, `<form method=post><input name=a value=b>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, _, err := ParseFormPost(b)
		if err == nil && fields == nil {
			t.Fatalf("ParseFormPost: nil fields without error")
		}
		e, _ := ParseFormPostError(b)
		checkInvariants(t, e)
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{sampleConvergedError, sampleCAPage, sampleSignInPage, `$Config={"iErrorCode":1e400}`, `$Config={"sErrorCode":-1,"iErrorCode":"99999999999999999999"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig(b)
		if err != nil {
			return
		}
		e, _ := ConfigError(cfg)
		checkInvariants(t, e)
	})
}

func FuzzParseCliTelem(f *testing.F) {
	for _, s := range []string{"1,90102,0,,", "1,0,0,112993681.7929,", "1,65001,7,,", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, sub, ok := ParseCliTelem(s)
		if !ok && (code != 0 || sub != 0) {
			t.Fatalf("ParseCliTelem(%q): got (%d, %d) with ok false", s, code, sub)
		}
		if code < 0 || sub < 0 {
			t.Fatalf("ParseCliTelem(%q): negative (%d, %d)", s, code, sub)
		}
	})
}

func FuzzParseWWWAuthenticate(f *testing.F) {
	for _, s := range []string{sampleGraphCAE, `Bearer error="a\"b"`, `Bearer realm="a", PoP nonce="n"`, `Negotiate abc==`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseWWWAuthenticate(s)
		if err == nil && p == nil {
			t.Fatalf("ParseWWWAuthenticate(%q): nil params without error", s)
		}
		e, _ := BearerChallengeError(s)
		checkInvariants(t, e)
	})
}

func FuzzParseTrailer(f *testing.F) {
	for _, s := range []string{
		"AADSTS1: x\r\nTrace ID: a\r\nCorrelation ID: b\r\nTimestamp: 2016-01-09 02:02:12Z",
		"x Trace ID: a Correlation ID: b Timestamp: 2024-03-26 21:48:02Z",
		"x.Trace ID: aCorrelation ID: bTimestamp: 2020-12-08 21:47:17Z",
		"Timestamp: Trace ID: Correlation ID:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		msg, _, _, _ := ParseTrailer(s)
		if len(msg) > len(s) {
			t.Fatalf("ParseTrailer(%q): message longer than input", s)
		}
	})
}

func FuzzFlowErrors(f *testing.F) {
	f.Add([]byte(sampleROPC50076), "application/json", "", "1,50076,0,,", "", "")
	f.Add([]byte(sampleConvergedError), "text/html", "", "1,50011,0,,", "", "")
	f.Add(gz(sampleConvergedError), "text/html", "", "", "", "gzip")
	f.Add([]byte(sampleFormPostError), "text/html", "", "", "", "")
	f.Add([]byte(nil), "", sampleFragment50058, "", "", "")
	f.Add([]byte("{}"), "application/json", "", "", sampleGraphCAE, "br")
	f.Fuzz(func(t *testing.T, body []byte, ct, location, clitelem, wwwauth, encoding string) {
		fl := response(400, body, encoding, "Content-Type", ct, "Location", location, "x-ms-clitelem", clitelem, "WWW-Authenticate", wwwauth)
		for _, e := range FlowErrors(fl) {
			checkInvariants(t, &e)
		}
		_ = FlowErrors(&flow.Flow{Response: &flow.Response{Body: flow.Body{Raw: body}}})
	})
}
