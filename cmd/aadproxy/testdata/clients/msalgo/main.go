// Command msalgo is a confidential client with MSAL Go and no proxy or CA
// settings of its own: Go's default transport reads HTTPS_PROXY and, on
// Linux, SSL_CERT_FILE, so only `aadproxy run` can route it through the
// proxy. It prints {"ok":…,"error":…}.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

func main() {
	authority, clientID, secret := os.Args[1], os.Args[2], os.Args[3]
	out := struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}{}
	cred, err := confidential.NewCredFromSecret(secret)
	if err == nil {
		var app confidential.Client
		if app, err = confidential.New(authority, clientID, cred); err == nil {
			var res confidential.AuthResult
			res, err = app.AcquireTokenByCredential(context.Background(), []string{"https://graph.microsoft.com/.default"})
			out.OK = err == nil && res.AccessToken != ""
		}
	}
	if err != nil {
		out.Error = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
