package filter

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
)

// benchFlows is the web inspector's worst case: 100 000 flows, most of them
// a browser's ordinary traffic and a fifth of them sign-in traffic with
// bodies (some gzip), tokens, errors and cookies.
const benchFlows = 100_000

var (
	benchOnce     sync.Once
	benchSubjects []Subject
)

func benchData() []Subject {
	benchOnce.Do(func() {
		hosts := []string{"www.contoso.example", "cdn.contoso.example", "static2.sharepointonline.com", "aadcdn.msftauth.net", "graph.microsoft.com", "api.fabrikam.example:8443"}
		idToken := jwt(map[string]any{"tid": tenant, "aud": client, "oid": "00000000-0000-0000-0000-000000000001"})
		tokenBody := gzipped(`{"token_type":"Bearer","expires_in":3599,"id_token":"` + idToken + `","access_token":"` + jwt(map[string]any{"tid": tenant, "appid": client}) + `"}`)
		errBody := `{"error":"invalid_grant","error_codes":[50058],"error_description":"AADSTS50058: A silent sign-in request was sent but no user is signed in."}`
		for i := range benchFlows {
			reqHdr := hdr("Host", "x", "User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
				"Accept", "*/*", "Accept-Encoding", "gzip, deflate, br, zstd", "Accept-Language", "en-US,en;q=0.9", "Sec-Fetch-Site", "same-origin")
			respHdr := hdr("Date", "Mon, 03 Jun 2024 10:00:00 GMT", "Cache-Control", "no-store", "X-Ms-Request-Id", "a1b2c3d4-"+strconv.Itoa(i), "Strict-Transport-Security", "max-age=31536000")
			f := &flow.Flow{Index: i}
			var findings []inspect.Finding
			switch i % 5 {
			case 0: // sign-in traffic
				switch i % 20 {
				case 0:
					f.Request = &flow.Request{Method: "GET", URL: fmt.Sprintf("https://login.microsoftonline.com/%s/oauth2/v2.0/authorize?client_id=%s&response_type=code&redirect_uri=https%%3A%%2F%%2Fapp.contoso.example%%2Fcb&scope=openid%%20profile%%20offline_access&state=%d&nonce=n%d&code_challenge=abc&code_challenge_method=S256", tenant, client, i, i),
						Header: append(reqHdr, flow.Header{Name: "Cookie", Value: "buid=0.A; ESTSAUTHPERSISTENT=0.AXEA; fpc=Ag"})}
					f.Response = &flow.Response{Status: 302, Header: append(respHdr, flow.Header{Name: "Location", Value: "https://app.contoso.example/cb?code=0.AXEA-c&state=" + strconv.Itoa(i)},
						flow.Header{Name: "Set-Cookie", Value: "ESTSAUTH=0.AXEA; path=/; secure; HttpOnly; SameSite=None"})}
				case 5:
					f.Request = &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/" + tenant + "/oauth2/v2.0/token",
						Header: append(reqHdr, flow.Header{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}),
						Body:   body("client_id=" + client + "&grant_type=authorization_code&code=0.AXEA-c&code_verifier=v&redirect_uri=https%3A%2F%2Fapp.contoso.example%2Fcb")}
					f.Response = &flow.Response{Status: 200, Header: append(respHdr, flow.Header{Name: "Content-Type", Value: "application/json; charset=utf-8"}, flow.Header{Name: "Content-Encoding", Value: "gzip"}),
						Body: flow.Body{Raw: tokenBody, Size: int64(len(tokenBody)), Encoding: "gzip"}}
				case 10:
					f.Request = &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
						Header: append(reqHdr, flow.Header{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}),
						Body:   body("client_id=" + client + "&grant_type=refresh_token&refresh_token=1.AXEA-rt")}
					f.Response = &flow.Response{Status: 400, Header: append(respHdr, flow.Header{Name: "Content-Type", Value: "application/json; charset=utf-8"}), Body: body(errBody)}
					findings = []inspect.Finding{{Rule: "interaction-required", Severity: inspect.Warning, Code: 50058}}
				default:
					f.Request = &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.microsoftonline.com/common/oauth2/v2.0/authorize", Header: reqHdr}
					f.Response = &flow.Response{Status: 200, Header: append(respHdr, flow.Header{Name: "Content-Type", Value: "application/json"}),
						Body: body(`{"tenant_discovery_endpoint":"https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration","api-version":"1.1"}`)}
				}
			default: // a browser's other traffic, bodies stripped as the UI's store keeps them
				host := hosts[i%len(hosts)]
				f.Request = &flow.Request{Method: "GET", URL: fmt.Sprintf("https://%s/assets/v%d/bundle.%x.js?cache=%d", host, i%7, i, i), Header: reqHdr}
				status := []int{200, 200, 200, 304, 404}[i%5]
				f.Response = &flow.Response{Status: status, Header: append(respHdr, flow.Header{Name: "Content-Type", Value: "application/javascript"}),
					Body: flow.Body{Size: 40_000, Truncated: true}}
			}
			benchSubjects = append(benchSubjects, Subject{Flow: f, Findings: findings, Txn: i/20 + 1})
		}
	})
	return benchSubjects
}

// BenchmarkMatch filters all 100 000 flows once per op: ns/op is the time
// for the whole recording, ns/flow the time per flow. Body and token terms
// run on warm decoded-body caches after the first op, as in the inspector,
// where the pipeline has decoded them already.
func BenchmarkMatch(b *testing.B) {
	subjects := benchData()
	for _, expr := range []string{
		`~d login\.microsoftonline\.com`,
		`~d ^graph`,
		`~u oauth2/v2\.0/authorize`,
		`authorize`,
		`~c 4xx`,
		`~m post`,
		`~d login ~c 4xx | ~u token`,
		`~h x-ms-request-id`,
		`~cookie ESTSAUTH`,
		`~b invalid_grant`,
		`~aadsts 50058`,
		`~tid ` + tenant,
		`~client ` + client,
	} {
		e := MustParse(expr)
		b.Run(expr, func(b *testing.B) {
			for _, s := range subjects { // decode bodies before the clock starts
				e.Match(s)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = 0
				for _, s := range subjects {
					if e.Match(s) {
						n++
					}
				}
			}
			if n == 0 {
				b.Fatalf("%s matched no flow", expr)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchFlows, "ns/flow")
		})
	}
}
