"""Fetch a URL through an HTTP proxy with Python's strict X.509 checks
(ssl.VERIFY_X509_STRICT, the default from Python 3.13 and so in Azure CLI
>= 2.77): the leaf aadproxy issues must pass them."""
import http.client
import ssl
import sys

proxy_host, proxy_port, ca_file, host, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca_file)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
conn = http.client.HTTPSConnection(proxy_host, proxy_port, context=ctx, timeout=30)
conn.set_tunnel(host, 443)
conn.request("GET", path)
resp = conn.getresponse()
print(resp.status)
