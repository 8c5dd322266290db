// A confidential client with npm's @azure/msal-node: no proxy, CA or
// network client of its own, so only `aadproxy run` (HTTPS_PROXY with
// NODE_USE_ENV_PROXY, NODE_EXTRA_CA_CERTS) can route it through the proxy.
// Usage: node msal_node_client.mjs AUTHORITY CLIENT_ID SECRET
import { createRequire } from "node:module";

const require = createRequire(process.env.MSAL_NODE_MODULES + "/");
const msal = require("@azure/msal-node");

const [authority, clientId, clientSecret] = process.argv.slice(2);
const app = new msal.ConfidentialClientApplication({ auth: { clientId, authority, clientSecret } });
try {
  const result = await app.acquireTokenByClientCredential({ scopes: ["https://graph.microsoft.com/.default"] });
  console.log(JSON.stringify({ ok: !!(result && result.accessToken), error_codes: [] }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error_codes: e.errorNo ? [Number(e.errorNo)] : [], message: String(e.errorMessage || e.message).slice(0, 300) }));
}
