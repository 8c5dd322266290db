"""A confidential client with Debian's python3-msal: no proxy or CA settings
of its own, so only `aadproxy run` can route it through the proxy."""
import json
import sys

import msal

authority, client_id, secret = sys.argv[1], sys.argv[2], sys.argv[3]
app = msal.ConfidentialClientApplication(client_id, authority=authority, client_credential=secret)
result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
print(json.dumps({"ok": "access_token" in result, "error_codes": result.get("error_codes", [])}))
