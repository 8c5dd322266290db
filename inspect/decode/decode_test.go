package decode

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// same compares every field of got with want, except Description when want
// leaves it empty (descriptions are long; Message covers their content).
func same(got, want *AADSTSError) string {
	if got == nil || want == nil {
		return fmt.Sprintf("got %v, want %v", got, want)
	}
	g := *got
	if want.Description == "" {
		g.Description = ""
	}
	if !reflect.DeepEqual(&g, want) {
		return fmt.Sprintf("\n got %+v\nwant %+v", g, *want)
	}
	return ""
}

func TestParseTokenError(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *AADSTSError
	}{
		{"v1 CRLF multi-code", sampleV1MultiCode, &AADSTSError{
			Codes: []int{70002, 70008}, OAuthError: "invalid_grant",
			Message: "AADSTS70002: Error validating credentials.\r\nAADSTS70008: The provided authorization code or refresh token is expired. Send a new interactive authorization request for this user and resource.",
			TraceID: traceA, CorrelationID: corrA, Timestamp: ts("2016-01-09T02:02:12Z"), Source: SourceTokenJSON,
		}},
		{"2024 space form with basic_action", sampleROPC50076, &AADSTSError{
			Codes: []int{50076}, OAuthError: "invalid_grant", SubError: "basic_action",
			Message: "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
			TraceID: traceA, CorrelationID: corrA, Timestamp: ts("2024-03-26T21:48:02Z"),
			ErrorURI: "https://login.microsoftonline.com/error?code=50076", Source: SourceTokenJSON,
		}},
		{"MSAL no separator", sampleMSALNoSeparator, &AADSTSError{
			Codes: []int{9002313}, OAuthError: "invalid_grant", SubError: "bad_token",
			Message: "AADSTS9002313: Invalid request. Request is malformed or invalid.",
			TraceID: traceA, CorrelationID: corrA, Timestamp: ts("2020-12-08T21:47:17Z"), Source: SourceTokenJSON,
		}},
		{"CA block with capolids claims", sampleCABlock, &AADSTSError{
			Codes: []int{53003}, OAuthError: "invalid_grant", SubError: "message_only",
			Message: "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
			TraceID: traceA, CorrelationID: corrA, Timestamp: ts("2024-05-02T10:11:12Z"),
			ErrorURI: "https://login.microsoftonline.com/error?code=53003",
			Claims:   `{"access_token":{"capolids":{"essential":true,"values":["11111111-2222-4333-8444-555555555555"]}}}`,
			Source:   SourceTokenJSON,
		}},
		{"MFA enrollment with polids claims", sampleMFAClaims, &AADSTSError{
			Codes: []int{50079}, OAuthError: "interaction_required",
			Message: "AADSTS50079: Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication.",
			TraceID: traceA, CorrelationID: corrA, Timestamp: ts("2021-09-14T08:00:01Z"),
			Claims: `{"access_token":{"polids":{"essential":true,"values":["9ab03e19-0000-4000-8000-000000000000"]}}}`,
			Source: SourceTokenJSON,
		}},
		{"device code pending", samplePending, &AADSTSError{
			Codes: []int{70016}, OAuthError: "authorization_pending",
			Message: "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
			TraceID: traceA, CorrelationID: corrA, Timestamp: ts("2022-02-02T02:02:02Z"), Source: SourceTokenJSON,
		}},
		{"codes as strings, description only code", `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":["7000215", true, 1.5]}`, &AADSTSError{
			Codes: []int{7000215}, OAuthError: "invalid_client",
			Message: "AADSTS7000215: Invalid client secret provided.", Source: SourceTokenJSON,
		}},
		{"code only in description", "\ufeff  " + `{"error":"invalid_request","error_description":"AADSTS900144: The request body must contain the following parameter: 'grant_type'."}`, &AADSTSError{
			Codes: []int{900144}, OAuthError: "invalid_request",
			Message: "AADSTS900144: The request body must contain the following parameter: 'grant_type'.", Source: SourceTokenJSON,
		}},
		{"bare OAuth error", `{"error":"temporarily_unavailable"}`, &AADSTSError{
			OAuthError: "temporarily_unavailable", Source: SourceTokenJSON,
		}},
		{"resource API wrapping an AADSTS message", `{"error":{"code":"InvalidAuthenticationToken","message":"AADSTS500011: The resource principal named api://x was not found in the tenant."}}`, &AADSTSError{
			Codes: []int{500011}, OAuthError: "InvalidAuthenticationToken",
			Message: "AADSTS500011: The resource principal named api://x was not found in the tenant.", Source: SourceTokenJSON,
		}},
	}
	for _, tt := range tests {
		got, err := ParseTokenError([]byte(tt.body))
		if err != nil {
			t.Errorf("ParseTokenError(%s): unexpected error %v", tt.name, err)
			continue
		}
		if d := same(got, tt.want); d != "" {
			t.Errorf("ParseTokenError(%s): %s", tt.name, d)
		}
	}
}

func TestParseTokenErrorRejects(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		notError bool // want ErrNotError rather than a parse error
	}{
		{"v2 success", sampleSuccessV2, true},
		{"v1 success", sampleSuccessV1, true},
		{"nonce", `{"Nonce":"AwABAAEAAAACAOz_BAD0_w"}`, true},
		{"Graph error without AADSTS", `{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}`, true},
		{"empty error", `{"error":"","error_codes":[]}`, true},
		{"array", `[1,2]`, false},
		{"html", `<html></html>`, false},
		{"truncated", sampleROPC50076[:80], false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		got, err := ParseTokenError([]byte(tt.body))
		if err == nil {
			t.Errorf("ParseTokenError(%s): got %+v, want an error", tt.name, got)
			continue
		}
		if tt.notError != errors.Is(err, ErrNotError) {
			t.Errorf("ParseTokenError(%s): got error %v, want ErrNotError %v", tt.name, err, tt.notError)
		}
	}
}

func TestParseTrailer(t *testing.T) {
	const guid1, guid2 = "fa3d0000-0000-4000-8000-000000000001", "d5f20000-0000-4000-8000-000000000002"
	tests := []struct {
		name             string
		in               string
		msg, trace, corr string
		ts               time.Time
	}{
		{"CRLF", "AADSTS50058: A silent sign-in request was sent.\r\nTrace ID: " + guid1 + "\r\nCorrelation ID: " + guid2 + "\r\nTimestamp: 2016-01-09 02:02:12Z",
			"AADSTS50058: A silent sign-in request was sent.", guid1, guid2, ts("2016-01-09T02:02:12Z")},
		{"space", "AADSTS50076: MFA. Trace ID: " + guid1 + " Correlation ID: " + guid2 + " Timestamp: 2024-03-26 21:48:02Z",
			"AADSTS50076: MFA.", guid1, guid2, ts("2024-03-26T21:48:02Z")},
		{"no separator", "AADSTS9002313: Invalid request.Trace ID: " + guid1 + "Correlation ID: " + guid2 + "Timestamp: 2020-12-08 21:47:17Z",
			"AADSTS9002313: Invalid request.", guid1, guid2, ts("2020-12-08T21:47:17Z")},
		{"ISO timestamp", "Message. Trace ID: " + guid1 + " Correlation ID: " + guid2 + " Timestamp: 2024-03-19T08:08:52Z",
			"Message.", guid1, guid2, ts("2024-03-19T08:08:52Z")},
		{"no trailer", "  AADSTS50126: Error validating credentials due to invalid username or password.  ",
			"AADSTS50126: Error validating credentials due to invalid username or password.", "", "", time.Time{}},
		{"only correlation", "Oops.\nCorrelation ID: " + guid2, "Oops.", "", guid2, time.Time{}},
		{"timestamp without zone", "X Timestamp: 2024-01-02 03:04:05", "X", "", "", ts("2024-01-02T03:04:05Z")},
		{"bad timestamp", "X Trace ID: t Timestamp: yesterday", "X", "t", "", time.Time{}},
		{"lowercase labels", "X trace id: t correlation id: c timestamp: 2024-01-02 03:04:05Z", "X", "t", "c", ts("2024-01-02T03:04:05Z")},
		{"empty", "", "", "", "", time.Time{}},
	}
	for _, tt := range tests {
		msg, trace, corr, got := ParseTrailer(tt.in)
		if msg != tt.msg || trace != tt.trace || corr != tt.corr || !got.Equal(tt.ts) {
			t.Errorf("ParseTrailer(%q): got (%q, %q, %q, %v), want (%q, %q, %q, %v)", tt.name, msg, trace, corr, got, tt.msg, tt.trace, tt.corr, tt.ts)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2016-01-09 02:02:12Z", ts("2016-01-09T02:02:12Z")},
		{"2024-03-19T08:08:52Z", ts("2024-03-19T08:08:52Z")},
		{"Current time: 2023-08-01T11:08:01.5274809Z, assertion", ts("2023-08-01T11:08:01.5274809Z")},
		{"2023-08-01T11:08:01+02:00", ts("2023-08-01T09:08:01Z")},
		{"2024-13-45 99:99:99Z", time.Time{}},
		{"", time.Time{}},
	}
	for _, tt := range tests {
		if got := ParseTimestamp(tt.in); !got.Equal(tt.want) {
			t.Errorf("ParseTimestamp(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseRedirectError(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *AADSTSError
	}{
		{".NET-encoded query 50105", sampleRedirect50105, &AADSTSError{
			Codes: []int{50105}, OAuthError: "interaction_required",
			Message: "AADSTS50105: The signed in user '{EmailHidden}' is not assigned to a role for the application 'aaaaaaaa-0000-4000-8000-000000000000'(Contoso App).",
			TraceID: traceA, CorrelationID: corrA, Timestamp: ts("2020-07-14T11:00:34Z"),
			ErrorURI: "https://login.microsoftonline.com/error?code=50105", Source: SourceRedirectQuery,
		}},
		{"2024 fragment 700051", sampleFragment700051, &AADSTSError{
			Codes: []int{700051}, OAuthError: "unsupported_response_type",
			Message: "AADSTS700051: response_type 'token' is not enabled for the application.",
			TraceID: traceA, CorrelationID: corrA, Timestamp: ts("2024-07-10T12:19:49Z"),
			ErrorURI: "https://login.microsoftonline.com/error?code=700051", Source: SourceRedirectFragment,
		}},
		{"prompt=none 50058", sampleFragment50058, &AADSTSError{
			Codes: []int{50058}, OAuthError: "login_required",
			Message: "AADSTS50058: A silent sign-in request was sent but no user is signed in.",
			TraceID: traceA, CorrelationID: corrA, Timestamp: ts("2024-01-05T09:30:00Z"),
			ErrorURI: "https://login.microsoftonline.com/error?code=50058", Source: SourceRedirectFragment,
		}},
		{"cancel in query", sampleCancel, &AADSTSError{
			OAuthError: "access_denied", SubError: "cancel", Source: SourceRedirectQuery,
		}},
		{"cancel in fragment", "https://app.contoso.test/#error=access_denied&error_subcode=cancel&state=s", &AADSTSError{
			OAuthError: "access_denied", SubError: "cancel", Source: SourceRedirectFragment,
		}},
		{"code only in error_uri", "https://app.contoso.test/cb?error=invalid_request&error_uri=https%3a%2f%2flogin.microsoftonline.com%2ferror%3fcode%3d90014", &AADSTSError{
			Codes: []int{90014}, OAuthError: "invalid_request",
			ErrorURI: "https://login.microsoftonline.com/error?code=90014", Source: SourceRedirectQuery,
		}},
		{"bad escape elsewhere", "/cb?state=%zz&error=login_required&error_description=AADSTS50058%3a+none", &AADSTSError{
			Codes: []int{50058}, OAuthError: "login_required", Message: "AADSTS50058: none", Source: SourceRedirectQuery,
		}},
	}
	for _, tt := range tests {
		got, err := ParseRedirectError(tt.in)
		if err != nil {
			t.Errorf("ParseRedirectError(%s): unexpected error %v", tt.name, err)
			continue
		}
		if d := same(got, tt.want); d != "" {
			t.Errorf("ParseRedirectError(%s): %s", tt.name, d)
		}
	}
	for _, in := range []string{
		"https://app.contoso.test/cb?code=0.AXEA&state=s&session_state=x",
		"https://app.contoso.test/#code=0.AXEA&client_info=eyJ1aWQiOiJ4In0&state=s",
		"/common/oauth2/v2.0/authorize?client_id=x&sso_nonce=AwAB",
		"",
		"%%%",
	} {
		if got, err := ParseRedirectError(in); !errors.Is(err, ErrNotError) {
			t.Errorf("ParseRedirectError(%q): got (%+v, %v), want ErrNotError", in, got, err)
		}
	}
}

func TestParseFormPost(t *testing.T) {
	fields, action, err := ParseFormPost([]byte(sampleFormPostCode))
	if err != nil {
		t.Fatalf("ParseFormPost(code page): unexpected error %v", err)
	}
	wantFields := map[string]string{"code": "0.AXEA-code", "state": "st", "session_state": "ss"}
	if !reflect.DeepEqual(fields, wantFields) || action != "https://app.contoso.test/signin-oidc" {
		t.Errorf("ParseFormPost(code page): got (%v, %q), want (%v, %q)", fields, action, wantFields, "https://app.contoso.test/signin-oidc")
	}
	if got, err := ParseFormPostError([]byte(sampleFormPostCode)); !errors.Is(err, ErrNotError) {
		t.Errorf("ParseFormPostError(code page): got (%+v, %v), want ErrNotError", got, err)
	}

	_, action, err = ParseFormPost([]byte(sampleFormPostError))
	if err != nil || action != "https://app.contoso.test/signin-oidc?a=1&b=2" {
		t.Errorf("ParseFormPost(error page): got action %q err %v, want the unescaped action", action, err)
	}
	got, err := ParseFormPostError([]byte(sampleFormPostError))
	if err != nil {
		t.Fatalf("ParseFormPostError(error page): unexpected error %v", err)
	}
	want := &AADSTSError{
		Codes: []int{65004}, OAuthError: "access_denied",
		Message: "AADSTS65004: User declined to consent to access the app.",
		TraceID: traceA, CorrelationID: corrA, Timestamp: ts("2023-06-01T12:00:00Z"),
		ErrorURI: "https://login.microsoftonline.com/error?code=65004", Source: SourceFormPost,
	}
	if d := same(got, want); d != "" {
		t.Errorf("ParseFormPostError(error page): %s", d)
	}

	// "hiddenform" wins over an earlier unrelated form.
	two := `<form method="get" action="/search"><input name="q" value="x"></form>` + sampleFormPostCode
	if fields, _, err := ParseFormPost([]byte(two)); err != nil || fields["code"] != "0.AXEA-code" || fields["q"] != "" {
		t.Errorf("ParseFormPost(two forms): got (%v, %v), want the hiddenform's fields", fields, err)
	}
	for _, in := range []string{"", "<html><body>no form</body></html>", `<form method="get"><input name="q"></form>`, "{}"} {
		if f, a, err := ParseFormPost([]byte(in)); err == nil {
			t.Errorf("ParseFormPost(%q): got (%v, %q), want an error", in, f, a)
		}
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(sampleConvergedError))
	if err != nil {
		t.Fatalf("ParseConfig(ConvergedError): unexpected error %v", err)
	}
	if cfg["pgid"] != "ConvergedError" || cfg["hpgid"] != float64(1117) {
		t.Errorf("ParseConfig(ConvergedError): got pgid %v hpgid %v, want ConvergedError 1117", cfg["pgid"], cfg["hpgid"])
	}
	tests := []struct {
		name string
		page string
		want *AADSTSError
	}{
		{"ConvergedError 50011", sampleConvergedError, &AADSTSError{
			Codes:   []int{50011},
			Message: "AADSTS50011: The redirect URI 'https://app.contoso.test/cb' specified in the request does not match the redirect URIs configured for the application 'aaaaaaaa-0000-4000-8000-000000000000'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.",
			TraceID: traceA, CorrelationID: corrA, Source: SourceHTMLConfig,
		}},
		{"CA page, symbolic sErrorCode", sampleCAPage, &AADSTSError{
			SubError: "InvalidAccessPass", TraceID: traceA, CorrelationID: corrA, Source: SourceHTMLConfig,
		}},
		{"numeric codes as numbers, message with trailer", `<script>$Config={"iErrorCode":53003,"sErrorCode":"53003","strServiceExceptionMessage":"AADSTS53003: Blocked. Trace ID: t1 Correlation ID: c1 Timestamp: 2024-03-19T08:08:52Z"};//]]></script>`, &AADSTSError{
			Codes: []int{53003}, Message: "AADSTS53003: Blocked.", TraceID: "t1", CorrelationID: "c1",
			Timestamp: ts("2024-03-19T08:08:52Z"), Source: SourceHTMLConfig,
		}},
		{"login.live.com sErrTxt", `<script>$Config={"sErrorCode":"80041012","sErrTxt":"That Microsoft account doesn't exist."};</script>`, &AADSTSError{
			Codes: []int{80041012}, Message: "That Microsoft account doesn't exist.", Source: SourceHTMLConfig,
		}},
	}
	for _, tt := range tests {
		cfg, err := ParseConfig([]byte(tt.page))
		if err != nil {
			t.Errorf("ParseConfig(%s): unexpected error %v", tt.name, err)
			continue
		}
		got, err := ConfigError(cfg)
		if err != nil {
			t.Errorf("ConfigError(%s): unexpected error %v", tt.name, err)
			continue
		}
		if d := same(got, tt.want); d != "" {
			t.Errorf("ConfigError(%s): %s", tt.name, d)
		}
	}

	cfg, err = ParseConfig([]byte(sampleSignInPage))
	if err != nil {
		t.Fatalf("ParseConfig(sign-in page): unexpected error %v", err)
	}
	if got, err := ConfigError(cfg); !errors.Is(err, ErrNotError) {
		t.Errorf("ConfigError(sign-in page): got (%+v, %v), want ErrNotError", got, err)
	}
	for _, in := range []string{"", "<html></html>", "$Config.x = 1;", "$Config={broken", "$Config=[1]"} {
		if cfg, err := ParseConfig([]byte(in)); err == nil {
			t.Errorf("ParseConfig(%q): got %v, want an error", in, cfg)
		}
	}
	// The assignment, not an earlier mention, is what counts.
	cfg, err = ParseConfig([]byte(`if ($Config) {} $Config={"pgid":"KmsiInterrupt"};//]]>`))
	if err != nil || cfg["pgid"] != "KmsiInterrupt" {
		t.Errorf("ParseConfig(mention then assignment): got (%v, %v), want pgid KmsiInterrupt", cfg, err)
	}
}

func TestParseCliTelem(t *testing.T) {
	tests := []struct {
		in        string
		code, sub int
		ok        bool
	}{
		{"1,90102,0,,", 90102, 0, true},
		{"1,0,0,,", 0, 0, true},
		{"1,0,0,112993681.7929,", 0, 0, true},
		{"1,65001,7,,", 65001, 7, true},
		{" 1,50058,,, ", 50058, 0, true},
		{"1,abc,0,,", 0, 0, false},
		{"1,-5,0,,", 0, 0, false},
		{"1,50058", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		code, sub, ok := ParseCliTelem(tt.in)
		if code != tt.code || sub != tt.sub || ok != tt.ok {
			t.Errorf("ParseCliTelem(%q): got (%d, %d, %v), want (%d, %d, %v)", tt.in, code, sub, ok, tt.code, tt.sub, tt.ok)
		}
	}
}

func TestParseWWWAuthenticate(t *testing.T) {
	tests := []struct {
		in     string
		scheme string
		want   map[string]string
	}{
		{sampleGraphCAE, "Bearer", map[string]string{
			"realm": "", "authorization_uri": "https://login.microsoftonline.com/common/oauth2/authorize",
			"client_id": "00000003-0000-0000-c000-000000000000", "error": "insufficient_claims",
			"claims": "eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNzI2MDc3NTk1In0sInhtc19jYWVlcnJvciI6eyJ2YWx1ZSI6IjEwMDEyIn19fQ==",
		}},
		{`Bearer error=invalid_token,error_description="say \"hi\", twice"`, "Bearer", map[string]string{
			"error": "invalid_token", "error_description": `say "hi", twice`,
		}},
		{`Bearer realm="a", PoP nonce="n"`, "Bearer", map[string]string{"realm": "a"}},
		{`Negotiate`, "Negotiate", map[string]string{}},
		{`Bearer Realm = "spaced" , unterminated="abc`, "Bearer", map[string]string{"realm": "spaced", "unterminated": "abc"}},
	}
	for _, tt := range tests {
		scheme, got, err := ParseChallenge(tt.in)
		if err != nil || scheme != tt.scheme || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseChallenge(%q): got (%q, %v, %v), want (%q, %v, nil)", tt.in, scheme, got, err, tt.scheme, tt.want)
		}
		if p, err := ParseWWWAuthenticate(tt.in); err != nil || !reflect.DeepEqual(p, tt.want) {
			t.Errorf("ParseWWWAuthenticate(%q): got (%v, %v), want %v", tt.in, p, err, tt.want)
		}
	}
	for _, in := range []string{"", "   ", `realm="x"`} {
		if _, p, err := ParseChallenge(in); err == nil {
			t.Errorf("ParseChallenge(%q): got %v, want an error", in, p)
		}
	}
}

func TestBearerChallengeError(t *testing.T) {
	tests := []struct {
		in   string
		want *AADSTSError
	}{
		{sampleGraphCAE, &AADSTSError{OAuthError: "insufficient_claims", Claims: sampleGraphCAEClaims, Source: SourceWWWAuthenticate}},
		// Unpadded URL-safe base64 decodes too.
		{`Bearer error="insufficient_claims", claims="` + strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace("eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNzI2MDc3NTk1In0sInhtc19jYWVlcnJvciI6eyJ2YWx1ZSI6IjEwMDEyIn19fQ=="), "=") + `"`,
			&AADSTSError{OAuthError: "insufficient_claims", Claims: sampleGraphCAEClaims, Source: SourceWWWAuthenticate}},
		{`Bearer error="invalid_token", error_description="AADSTS50173: The provided grant has expired. Trace ID: t Correlation ID: c Timestamp: 2024-01-01 00:00:00Z", claims="not base64!"`,
			&AADSTSError{Codes: []int{50173}, OAuthError: "invalid_token", Message: "AADSTS50173: The provided grant has expired.",
				TraceID: "t", CorrelationID: "c", Timestamp: ts("2024-01-01T00:00:00Z"), Claims: "not base64!", Source: SourceWWWAuthenticate}},
	}
	for _, tt := range tests {
		got, err := BearerChallengeError(tt.in)
		if err != nil {
			t.Errorf("BearerChallengeError(%q): unexpected error %v", tt.in, err)
			continue
		}
		if d := same(got, tt.want); d != "" {
			t.Errorf("BearerChallengeError(%q): %s", tt.in, d)
		}
	}
	plain := `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`
	if got, err := BearerChallengeError(plain); !errors.Is(err, ErrNotError) {
		t.Errorf("BearerChallengeError(plain): got (%+v, %v), want ErrNotError", got, err)
	}
}

func TestHasFormTag(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"<html><form method=post>", true}, {"<FORM>", true}, {"x<FoRm", true}, {"<for", false},
		{"<p>form</p>", false}, {"", false}, {"<<form", true}, {"< form", false}, {"<formation", true},
	} {
		if got := HasFormTag([]byte(tt.in)); got != tt.want {
			t.Errorf("HasFormTag(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestContainsFold(t *testing.T) {
	if !ContainsFold("https://X/OAuth2/V2.0/Authorize?a", "/authorize") || ContainsFold("/auth", "/authorize") ||
		!ContainsFold("a=1; EstsAuth=z", "ESTSAUTH") || ContainsFold("", "x") || !ContainsFold("x", "") {
		t.Errorf("ContainsFold: wrong answer")
	}
}

// FuzzContainsFold checks the jumping search against lowering both sides,
// for ASCII input (what headers and URLs are).
func FuzzContainsFold(f *testing.F) {
	for _, s := range [][2]string{{"https://X/OAuth2/V2.0/Authorize?a", "/authorize"}, {"aAaAb", "AAB"}, {"code", "code="}, {"x", ""}, {"@[`{", "`{"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, s, sub string) {
		for _, r := range s + sub {
			if r >= 0x80 {
				return
			}
		}
		if got, want := ContainsFold(s, sub), strings.Contains(strings.ToLower(s), strings.ToLower(sub)); got != want {
			t.Errorf("ContainsFold(%q, %q) = %v, want %v", s, sub, got, want)
		}
	})
}
