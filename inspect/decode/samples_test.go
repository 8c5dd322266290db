package decode

// Samples shaped like the real bodies and headers ENTRA.md cites. The GUIDs,
// hosts and states are synthetic.

const (
	traceA = "5e6f7a8b-0000-4000-8000-00000000a001"
	corrA  = "9c8d7e6f-0000-4000-8000-00000000c001"
)

// sampleV1MultiCode is the 2016 v1 shape: CRLF separators, two codes.
const sampleV1MultiCode = `{"error":"invalid_grant","error_description":"AADSTS70002: Error validating credentials.\r\nAADSTS70008: The provided authorization code or refresh token is expired. Send a new interactive authorization request for this user and resource.\r\nTrace ID: ` + traceA + `\r\nCorrelation ID: ` + corrA + `\r\nTimestamp: 2016-01-09 02:02:12Z","error_codes":[70002,70008],"timestamp":"2016-01-09 02:02:12Z","trace_id":"` + traceA + `","correlation_id":"` + corrA + `"}`

// sampleROPC50076 is the 2023-2024 shape: single spaces between trailer parts.
const sampleROPC50076 = `{"error":"invalid_grant","error_description":"AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'. Trace ID: ` + traceA + ` Correlation ID: ` + corrA + ` Timestamp: 2024-03-26 21:48:02Z","error_codes":[50076],"timestamp":"2024-03-26 21:48:02Z","trace_id":"` + traceA + `","correlation_id":"` + corrA + `","error_uri":"https://login.microsoftonline.com/error?code=50076","suberror":"basic_action"}`

// sampleMSALNoSeparator is MSAL's fixture shape: no separator at all and no
// structured trace fields, so the trailer is the only source.
const sampleMSALNoSeparator = `{"error":"invalid_grant","error_description":"AADSTS9002313: Invalid request. Request is malformed or invalid.Trace ID: ` + traceA + `Correlation ID: ` + corrA + `Timestamp: 2020-12-08 21:47:17Z","error_codes":[9002313],"suberror":"bad_token"}`

// sampleCABlock is a 53003 with suberror message_only and a claims string
// whose text contains "access_token".
const sampleCABlock = `{"error":"invalid_grant","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance. Trace ID: ` + traceA + ` Correlation ID: ` + corrA + ` Timestamp: 2024-05-02 10:11:12Z","error_codes":[53003],"timestamp":"2024-05-02 10:11:12Z","trace_id":"` + traceA + `","correlation_id":"` + corrA + `","error_uri":"https://login.microsoftonline.com/error?code=53003","suberror":"message_only","claims":"{\"access_token\":{\"capolids\":{\"essential\":true,\"values\":[\"11111111-2222-4333-8444-555555555555\"]}}}"}`

const sampleMFAClaims = `{"error":"interaction_required","error_description":"AADSTS50079: Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication.\r\nTrace ID: ` + traceA + `\r\nCorrelation ID: ` + corrA + `\r\nTimestamp: 2021-09-14 08:00:01Z","error_codes":[50079],"claims":"{\"access_token\":{\"polids\":{\"essential\":true,\"values\":[\"9ab03e19-0000-4000-8000-000000000000\"]}}}"}`

const samplePending = `{"error":"authorization_pending","error_description":"AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.\r\nTrace ID: ` + traceA + `\r\nCorrelation ID: ` + corrA + `\r\nTimestamp: 2022-02-02 02:02:02Z","error_codes":[70016],"timestamp":"2022-02-02 02:02:02Z"}`

const sampleSuccessV2 = `{"token_type":"Bearer","scope":"User.Read","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Qi.e30.sig","refresh_token":"0.AAAA","id_token":"eyJ0eXAiOiJKV1Qi.e30.","client_info":"eyJ1aWQiOiJ4In0"}`

const sampleSuccessV1 = `{"token_type":"Bearer","expires_in":"3600","expires_on":"1388444763","resource":"https://graph.microsoft.com","access_token":"eyJ0eXAiOiJKV1Qi.e30.sig"}`

// sampleRedirect50105 is the .NET-encoded query redirect: + for spaces and
// lowercase %xx, CRLF inside the description.
const sampleRedirect50105 = `https://app.contoso.test/signin-oidc?error=interaction_required&error_description=AADSTS50105%3a+The+signed+in+user+%27%7bEmailHidden%7d%27+is+not+assigned+to+a+role+for+the+application+%27aaaaaaaa-0000-4000-8000-000000000000%27(Contoso+App).%0d%0aTrace+ID%3a+` + traceA + `%0d%0aCorrelation+ID%3a+` + corrA + `%0d%0aTimestamp%3a+2020-07-14+11%3a00%3a34Z&error_uri=https%3a%2f%2flogin.microsoftonline.com%2ferror%3fcode%3d50105&state=8MuwZ3Jd`

// sampleFragment700051 is the 2024 fragment shape with + between trailer parts.
const sampleFragment700051 = `https://app.contoso.test/#error=unsupported_response_type&error_description=AADSTS700051%3a+response_type+%27token%27+is+not+enabled+for+the+application.+Trace+ID%3a+` + traceA + `+Correlation+ID%3a+` + corrA + `+Timestamp%3a+2024-07-10+12%3a19%3a49Z&error_uri=https%3a%2f%2flogin.microsoftonline.com%2ferror%3fcode%3d700051&state=abc`

const sampleFragment50058 = `https://app.contoso.test/blank.html#error=login_required&error_description=AADSTS50058%3a+A+silent+sign-in+request+was+sent+but+no+user+is+signed+in.+Trace+ID%3a+` + traceA + `+Correlation+ID%3a+` + corrA + `+Timestamp%3a+2024-01-05+09%3a30%3a00Z&error_uri=https%3a%2f%2flogin.microsoftonline.com%2ferror%3fcode%3d50058&state=xyz&session_state=s1`

const sampleCancel = `msauth://com.contoso.app/2pmj9i4rSx0yEb%2FviWBYkE%2FZQrk%3D?error=access_denied&error_subcode=cancel&state=c3RhdGU`

const sampleFormPostError = `<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="https://app.contoso.test/signin-oidc?a=1&amp;b=2"><input type="hidden" name="error" value="access_denied" /><input type="hidden" name="error_description" value="AADSTS65004: User declined to consent to access the app.&#xD;&#xA;Trace ID: ` + traceA + `&#xD;&#xA;Correlation ID: ` + corrA + `&#xD;&#xA;Timestamp: 2023-06-01 12:00:00Z" /><input type="hidden" name="error_uri" value="https://login.microsoftonline.com/error?code=65004" /><input type="hidden" name="state" value="OpenIdConnect.AuthenticationProperties=abc" /><noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript></form><script language="javascript">document.forms[0].submit();</script></body></html>`

const sampleFormPostCode = `<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="https://app.contoso.test/signin-oidc"><input type="hidden" name="code" value="0.AXEA-code"/><input type="hidden" name="state" value="st"/><input type="hidden" name="session_state" value="ss"/><noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"/></noscript></form><script language="javascript">document.forms[0].submit();</script></body></html>`

// sampleConvergedError is an HTML error page for an unregistered reply URL.
const sampleConvergedError = `<!DOCTYPE html>
<html dir="ltr" class="" lang="en">
<head>
<title>Sign in to your account</title>
<meta name="PageID" content="ConvergedError" />
<script type="text/javascript">//<![CDATA[
$Config={"iErrorDesc":0,"iErrorTitle":0,"strMainMessage":"We couldn't sign you in. Please try again.","strServiceExceptionMessage":"AADSTS50011: The redirect URI 'https://app.contoso.test/cb' specified in the request does not match the redirect URIs configured for the application 'aaaaaaaa-0000-4000-8000-000000000000'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.","iErrorCode":"50011","sErrorCode":"50011","correlationId":"` + corrA + `","sessionId":"` + traceA + `","pgid":"ConvergedError","hpgid":1117,"serverDetails":{"dc":"NEULR1","ri":"AM3XXXX","ver":{"v":[2,1,19005,9]}},"country":"SE"};
//]]></script>
</head><body></body></html>`

// sampleCAPage is a Conditional Access block page with a symbolic sErrorCode.
const sampleCAPage = `<html><head><script type="text/javascript">//<![CDATA[
$Config = {"pgid":"ConvergedError","sErrorCode":"InvalidAccessPass","iErrorTitle":3,"iErrorDescription":5,"correlationId":"` + corrA + `","sessionId":"` + traceA + `","sDeviceId":"","sPOST_Username":"user@contoso.test"};
//]]></script></head></html>`

const sampleSignInPage = `<html><head><script type="text/javascript">//<![CDATA[
$Config={"pgid":"ConvergedSignIn","sFT":"AQABAAEAAAD","sCtx":"rQQIARAA","canary":"c1","urlPost":"/common/login","correlationId":"` + corrA + `","sessionId":"` + traceA + `","iErrorCode":0};
//]]></script></head></html>`

const sampleGraphCAE = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNzI2MDc3NTk1In0sInhtc19jYWVlcnJvciI6eyJ2YWx1ZSI6IjEwMDEyIn19fQ=="`

const sampleGraphCAEClaims = `{"access_token":{"nbf":{"essential":true,"value":"1726077595"},"xms_caeerror":{"value":"10012"}}}`
