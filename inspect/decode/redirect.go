package decode

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseRedirectError decodes an error carried by a redirect (a Location
// header or any URL): ?error=… (response_mode=query) or #error=…
// (response_mode=fragment). It accepts .NET encoding (+ for spaces, lowercase
// %xx) and keeps what it can from badly escaped parameters. A user cancel
// (error=access_denied&error_subcode=cancel) has no description and no code.
func ParseRedirectError(location string) (*AADSTSError, error) {
	rest, fragment, _ := strings.Cut(strings.TrimSpace(location), "#")
	_, query, _ := strings.Cut(rest, "?")
	// The fragment wins: with response_mode=fragment the query belongs to the
	// redirect_uri itself and is not Entra's.
	for _, c := range []struct{ part, source string }{
		{fragment, SourceRedirectFragment},
		{query, SourceRedirectQuery},
	} {
		if c.part == "" {
			continue
		}
		// ParseQuery returns every parameter it could decode along with the
		// first error; a bad escape elsewhere must not hide the error.
		v, _ := url.ParseQuery(c.part)
		if v.Get("error") == "" {
			continue
		}
		return paramsError(v, c.source), nil
	}
	return nil, fmt.Errorf("redirect carries no error parameter: %w", ErrNotError)
}

// paramsError builds an AADSTSError from OAuth error parameters, as found in
// a redirect or a form_post page.
func paramsError(v url.Values, source string) *AADSTSError {
	e := &AADSTSError{
		OAuthError:  v.Get("error"),
		Description: v.Get("error_description"),
		ErrorURI:    v.Get("error_uri"),
		Claims:      v.Get("claims"),
		Source:      source,
	}
	e.SubError = v.Get("error_subcode")
	if e.SubError == "" {
		e.SubError = v.Get("suberror")
	}
	e.fillFromDescription()
	if len(e.Codes) == 0 && e.ErrorURI != "" {
		// A description can be absent or localized; error_uri still names the
		// code (https://login.microsoftonline.com/error?code=50105).
		if u, err := url.Parse(e.ErrorURI); err == nil {
			e.Codes = appendCode(e.Codes, u.Query().Get("code"))
		}
	}
	return e
}

// valuesOf converts a field map to url.Values.
func valuesOf(fields map[string]string) url.Values {
	v := make(url.Values, len(fields))
	for k, val := range fields {
		v.Set(k, val)
	}
	return v
}
