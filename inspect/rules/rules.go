// Package rules holds aadproxy's rules, one per file, each a single exported
// *inspect.Rule value, and All, the ordered list the engine runs.
//
// Rules read flows through inspect.Pass and the decoders, and report
// findings; they must not import goproxy, net/http server code or any sink,
// and must not keep state outside the Pass (cross-flow rules use
// Pass.History).
package rules

import "github.com/aadproxy/aadproxy/inspect"

// All returns every rule in the order findings are reported. The list is
// explicit (no init registration) so that the set of rules is visible in one
// place; a test checks it with inspect.Validate.
func All() []*inspect.Rule {
	return []*inspect.Rule{
		AADSTSError,
		DomainHintMismatch,
		TenantMismatch,
		SessionKeyInvalid,
		InteractionRequired,
		ClockSkew,
		TokenExpired,
		RedirectURIMismatch,
		StateMismatch,
		NonceMismatch,
		PKCEMismatch,
		CodeReused,
		EndpointVersionMix,
		SignInLoop,
		CookieDropped,
		CookieOversize,
	}
}
