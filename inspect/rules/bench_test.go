package rules_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/rules"
)

// Benchmarks of what the rule engine costs per flow with every rule on
// (issue 7): Engine.Add over rules.All() for traffic that carries no
// identity material, for Entra traffic, and for a mix of both. Run with
//
//	go test -run '^$' -bench . -benchmem ./inspect/rules/
//
// Each benchmark adds fresh copies of its template flows with increasing
// indexes, as the proxy hands them over, so the History fills up and the
// cross-flow rules scan a realistic backlog. findings/op says how many
// findings the rules reported per flow on average.

const (
	benchTenant = "5f3c1e2a-0000-4000-8000-00000000c0c0"
	benchClient = "aaaaaaaa-0000-4000-8000-000000000000"
	benchTrace  = "5e6f7a8b-0000-4000-8000-00000000a001"
	benchCorr   = "9c8d7e6f-0000-4000-8000-00000000c001"
	benchRedir  = "https://app.contoso.test/signin-oidc"
	benchLogin  = "https://login.microsoftonline.com/"
)

func hdrs(kv ...string) flow.Headers {
	h := make(flow.Headers, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, flow.Header{Name: kv[i], Value: kv[i+1]})
	}
	return h
}

func body(s string) flow.Body { return flow.Body{Raw: []byte(s), Size: int64(len(s))} }

// browserHeaders are the request headers a browser sends on a subresource.
func browserHeaders(host string, kv ...string) flow.Headers {
	return append(hdrs("Host", host,
		"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		"Accept", "*/*", "Accept-Encoding", "gzip, deflate, br, zstd", "Accept-Language", "en-US,en;q=0.9",
		"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"), hdrs(kv...)...)
}

// cdnJSON is a small non-identity GET: a CDN's JSON manifest.
func cdnJSON() *flow.Flow {
	js := `{"version":"4.17.21","files":[{"name":"lodash.min.js","size":73015,"sri":"sha384-H6KKS1H1WwuERMSm+54dYLzjg0fKqRK5ZRyASdbrI/lwrCc6bXEmtGYr5SwvP1pZ"},{"name":"lodash.core.min.js","size":12950}],"updated":"2024-05-31T10:00:00Z"}`
	return &flow.Flow{
		Request: &flow.Request{Method: "GET", URL: "https://cdn.jsdelivr.net/npm/lodash@4.17.21/package.json", Proto: "HTTP/2.0",
			Header: browserHeaders("cdn.jsdelivr.net", "Origin", "https://app.contoso.test")},
		Response: &flow.Response{Status: 200, Proto: "HTTP/2.0", Body: body(js), Header: hdrs(
			"Content-Type", "application/json; charset=utf-8", "Content-Length", fmt.Sprint(len(js)),
			"Cache-Control", "public, max-age=604800", "Access-Control-Allow-Origin", "*",
			"ETag", `W/"d7-kq8L1V1HcIgt2s1p0Q"`, "Age", "3127", "X-Cache", "HIT, HIT")},
	}
}

// jsBundle is a non-identity GET of a script of about size bytes.
func jsBundle(size int) *flow.Flow {
	const chunk = `!function(e,t){"object"==typeof exports&&"undefined"!=typeof module?module.exports=t():"function"==typeof define&&define.amd?define(t):(e=e||self).Vue=t()}(this,function(){"use strict";var e=Object.freeze({});function t(e){return null==e}}` + "\n"
	js := strings.Repeat(chunk, size/len(chunk)+1)[:size]
	return &flow.Flow{
		Request: &flow.Request{Method: "GET", URL: "https://static.contoso-cdn.test/assets/app.3f9a1c.js", Proto: "HTTP/2.0",
			Header: browserHeaders("static.contoso-cdn.test", "Referer", "https://app.contoso.test/")},
		Response: &flow.Response{Status: 200, Proto: "HTTP/2.0", Body: body(js), Header: hdrs(
			"Content-Type", "text/javascript; charset=utf-8", "Content-Length", fmt.Sprint(len(js)),
			"Cache-Control", "public, max-age=31536000, immutable")},
	}
}

// htmlPage is a non-identity HTML page of about size bytes.
func htmlPage(size int) *flow.Flow {
	const chunk = `<div class="card"><h2 class="card-title">Quarterly report</h2><p class="card-text">Revenue grew in every region; see the attached figures.</p><a href="/reports/q2">Open</a></div>` + "\n"
	page := "<!DOCTYPE html><html><head><title>Reports</title></head><body>" + strings.Repeat(chunk, size/len(chunk)) + "</body></html>"
	return &flow.Flow{
		Request: &flow.Request{Method: "GET", URL: "https://intranet.contoso.test/reports", Proto: "HTTP/1.1",
			Header: browserHeaders("intranet.contoso.test")},
		Response: &flow.Response{Status: 200, Proto: "HTTP/1.1", Body: body(page), Header: hdrs(
			"Content-Type", "text/html; charset=utf-8", "Content-Length", fmt.Sprint(len(page)))},
	}
}

func jwtSeg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// idToken is a synthetic v2.0 id_token of realistic size for sign-in i.
func idToken(i int) string {
	return jwtSeg(map[string]any{"typ": "JWT", "alg": "RS256", "kid": "L1KfKFI_jnXbwWc22xZxw1sUHH0"}) + "." +
		jwtSeg(map[string]any{
			"aud": benchClient, "iss": benchLogin + benchTenant + "/v2.0", "iat": 1717243200, "nbf": 1717243200, "exp": 1717247100,
			"aio": "AUQAu/8WAAAAi1QZxYcEiU0cRB8Bnqe6dJ1j9l6Rt3X3kYVmeWvI0Zk1Jc0eVj4L9Yb5pOq2gDHG5wMp1Tr7aA==", "name": "Alice Example",
			"nonce": fmt.Sprintf("nonce-%06d", i), "oid": "0000aaaa-0000-4000-8000-000000000001", "preferred_username": "alice@contoso.com",
			"rh": "0.AXEAKh48XwAAAEAAgAAAAADAwKqqqqoAAABAgAAAAAAAAAAAAA.", "sid": "0000bbbb-0000-4000-8000-000000000002",
			"sub": "pairwise-sub-Hk3j2l1k4j5h6g7f8d9s0a", "tid": benchTenant, "uti": fmt.Sprintf("uti%06d", i), "ver": "2.0",
		}) + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 256))
}

func code(i int) string { return fmt.Sprintf("1.AXEAKh48X%06d", i) + strings.Repeat("Pq9r", 180) }

// authorizeRedirect is sign-in i's authorize request answered by a 302 to
// the app with a code.
func authorizeRedirect(i int) *flow.Flow {
	state, nonce := fmt.Sprintf("CfDJ8Kx2a9kz%06d", i), fmt.Sprintf("nonce-%06d", i)
	return &flow.Flow{
		Request: &flow.Request{Method: "GET", Proto: "HTTP/2.0", URL: benchLogin + benchTenant + "/oauth2/v2.0/authorize?client_id=" + benchClient +
			"&response_type=code&redirect_uri=https%3A%2F%2Fapp.contoso.test%2Fsignin-oidc&scope=openid%20profile%20offline_access%20User.Read" +
			"&response_mode=query&state=" + state + "&nonce=" + nonce +
			"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&x-client-SKU=ID_NET8_0",
			Header: browserHeaders("login.microsoftonline.com",
				"Cookie", "esctx=PAQABBwEAAABVrSpeuWamRam2jAF1XRQE; fpc=AkO3xCqgdl9Dpz8W; x-ms-gateway-slice=estsfd; stsservicecookie=estsfd")},
		Response: &flow.Response{Status: 302, Proto: "HTTP/2.0", Header: hdrs(
			"Cache-Control", "no-store, no-cache", "Location", benchRedir+"?code="+code(i)+"&state="+state+"&session_state=0000bbbb-0000-4000-8000-000000000002",
			"x-ms-request-id", benchTrace, "x-ms-ests-server", "2.1.18000.7 - NEULR1 ProdSlices",
			"Set-Cookie", "fpc=AkO3xCqgdl9Dpz8W; expires=Mon, 01-Jul-2024 12:00:00 GMT; path=/; secure; HttpOnly; SameSite=None",
			"Set-Cookie", "x-ms-gateway-slice=estsfd; path=/; secure; samesite=none; httponly",
			"Content-Length", "0")},
	}
}

// tokenPOST is the app redeeming sign-in i's code.
func tokenPOST(i int) *flow.Request {
	form := "client_id=" + benchClient + "&redirect_uri=https%3A%2F%2Fapp.contoso.test%2Fsignin-oidc" +
		"&scope=openid%20profile%20offline_access%20User.Read&grant_type=authorization_code&code=" + code(i) +
		"&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&client_info=1"
	return &flow.Request{Method: "POST", Proto: "HTTP/1.1", URL: benchLogin + benchTenant + "/oauth2/v2.0/token", Body: body(form),
		Header: hdrs("Host", "login.microsoftonline.com", "Content-Type", "application/x-www-form-urlencoded;charset=utf-8",
			"Content-Length", fmt.Sprint(len(form)), "client-request-id", benchCorr, "x-client-SKU", "ID_NET8_0", "x-client-ver", "7.5.1.0")}
}

// tokenError is sign-in i's code redeemed too late: Entra's 400 with
// AADSTS70008.
func tokenError(i int) *flow.Flow {
	js := `{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource. Trace ID: ` + benchTrace + ` Correlation ID: ` + benchCorr + ` Timestamp: 2024-06-01 12:00:00Z","error_codes":[70008],"timestamp":"2024-06-01 12:00:00Z","trace_id":"` + benchTrace + `","correlation_id":"` + benchCorr + `","error_uri":"https://login.microsoftonline.com/error?code=70008"}`
	return &flow.Flow{Request: tokenPOST(i), Response: &flow.Response{Status: 400, Proto: "HTTP/1.1", Body: body(js), Header: hdrs(
		"Cache-Control", "no-store, no-cache", "Content-Type", "application/json; charset=utf-8", "Content-Length", fmt.Sprint(len(js)),
		"x-ms-request-id", benchTrace, "client-request-id", benchCorr, "x-ms-clitelem", "1,70008,0,,")}}
}

// tokenSuccess is sign-in i's code redeemed for tokens.
func tokenSuccess(i int) *flow.Flow {
	js := `{"token_type":"Bearer","scope":"openid profile User.Read email","expires_in":4786,"ext_expires_in":4786,"access_token":"` +
		idToken(i+1_000_000) + `","refresh_token":"1.AXEAKh48X` + strings.Repeat("x7Yq", 200) + `","id_token":"` + idToken(i) +
		`","client_info":"eyJ1aWQiOiIwMDAwYWFhYS0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDEiLCJ1dGlkIjoiNWYzYzFlMmEtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDBjMGMwIn0"}`
	return &flow.Flow{Request: tokenPOST(i), Response: &flow.Response{Status: 200, Proto: "HTTP/1.1", Body: body(js), Header: hdrs(
		"Cache-Control", "no-store, no-cache", "Content-Type", "application/json; charset=utf-8", "Content-Length", fmt.Sprint(len(js)),
		"x-ms-request-id", benchTrace, "client-request-id", benchCorr, "x-ms-clitelem", "1,0,0,,")}}
}

// variants builds n sign-ins' worth of a flow, so that repeated identity
// flows carry distinct states, nonces and codes as real ones do.
func variants(n int, mk func(int) *flow.Flow) []*flow.Flow {
	out := make([]*flow.Flow, n)
	for i := range out {
		out[i] = mk(i)
	}
	return out
}

// benchStart is when the benchmark's first flow starts: inside the
// lifetime of the synthetic tokens, so no rule sees them as expired.
var benchStart = time.Unix(1717243500, 0).UTC()

// benchGap is the time between two flows' starts: 100 flows a second.
const benchGap = 10 * time.Millisecond

// background is ordinary browsing with no identity material: small JSON
// from a CDN, 200 KiB scripts and a 64 KiB HTML page (~52 KB a flow).
func background() []*flow.Flow {
	cdn, js, page := cdnJSON(), jsBundle(200<<10), htmlPage(64<<10)
	return []*flow.Flow{cdn, cdn, js, cdn, page, cdn, cdn, cdn, js}
}

// warmFlows is how many background flows a warm engine has seen: more than
// the rules' longest lookback (5000 flows), and enough body bytes to fill
// the History's default body budget, so the timed flows meet the backlog a
// proxy that has been running for a while holds.
const warmFlows = 6000

// benchAdd runs Engine.Add over copies of seq, in order and round again,
// with increasing indexes and start times. With warm set, the engine has
// default options and has first seen warmFlows background flows; without,
// it keeps a History of one flow, which measures what a flow costs by
// itself. wantFirst is the rule IDs the first timed flow must produce.
func benchAdd(b *testing.B, seq []*flow.Flow, warm bool, wantFirst []string) {
	b.Helper()
	opts := inspect.Options{MaxHistory: 1}
	if warm {
		opts = inspect.Options{}
	}
	e, err := inspect.NewEngine(rules.All(), opts)
	if err != nil {
		b.Fatalf("NewEngine(rules.All()): %v", err)
	}
	n := 0
	if warm {
		bg := background()
		for ; n < warmFlows; n++ {
			if got := e.Add(copyAt(bg[n%len(bg)], n)); len(got) != 0 {
				b.Fatalf("Engine.Add(background flow %d): got %d findings, want none: %+v", n, len(got), got[0])
			}
		}
	}
	var ids []string
	for _, fd := range e.Add(copyAt(seq[0], n)) {
		ids = append(ids, fd.Rule)
	}
	if strings.Join(ids, ",") != strings.Join(wantFirst, ",") {
		b.Fatalf("Engine.Add(first flow): got findings %q, want %q", ids, wantFirst)
	}
	n++
	var size int64
	for _, f := range seq {
		size += int64(len(f.Request.Body.Raw) + len(f.Response.Body.Raw))
	}
	b.SetBytes(size / int64(len(seq)))
	b.ReportAllocs()
	first, findings := n, 0
	for b.Loop() {
		findings += len(e.Add(copyAt(seq[(n-first+1)%len(seq)], n)))
		n++
	}
	b.ReportMetric(float64(findings)/float64(max(n-first, 1)), "findings/op")
}

// copyAt returns a shallow copy of f with the given index and a start time
// to match: a new flow per Add, as the proxy makes, sharing the template's
// request and response.
func copyAt(f *flow.Flow, index int) *flow.Flow {
	c := *f
	c.Index = index
	c.Timings.Start = benchStart.Add(time.Duration(index) * benchGap)
	c.Done = c.Timings.Start.Add(benchGap / 2)
	return &c
}

// BenchmarkEngineAdd measures Engine.Add with every rule for one kind of
// flow at a time: on its own (history=1) and after a backlog of ordinary
// traffic (warm). A warm run of one identity kind keeps adding sign-ins to
// the History, and cross-flow rules scan them, so its ns/op grows with
// -benchtime; BenchmarkEngineAddMixed is the realistic steady state.
func BenchmarkEngineAdd(b *testing.B) {
	const signIns = 512
	tests := []struct {
		name string
		seq  []*flow.Flow
		want []string
	}{
		{"cdn-json-200", []*flow.Flow{cdnJSON()}, nil},
		{"js-1MiB-200", []*flow.Flow{jsBundle(1 << 20)}, nil},
		{"token-error-400", variants(signIns, tokenError), []string{"aadsts-error"}},
		{"authorize-302-code", variants(signIns, authorizeRedirect), nil},
	}
	for _, tt := range tests {
		b.Run(tt.name+"/history=1", func(b *testing.B) { benchAdd(b, tt.seq, false, tt.want) })
		b.Run(tt.name+"/warm", func(b *testing.B) { benchAdd(b, tt.seq, true, tt.want) })
	}
}

// BenchmarkEngineAddMixed runs a browsing session in which one flow in ten
// belongs to a sign-in: the background traffic, and every tenth flow an
// authorize redirect or the token POST that redeems its code. The engine
// is warm.
func BenchmarkEngineAddMixed(b *testing.B) {
	const signIns = 256
	bg := background()
	var seq []*flow.Flow
	for i := range signIns {
		seq = append(seq, bg...)
		seq = append(seq, authorizeRedirect(i))
		seq = append(seq, bg...)
		seq = append(seq, tokenSuccess(i))
	}
	benchAdd(b, seq, true, nil)
}
