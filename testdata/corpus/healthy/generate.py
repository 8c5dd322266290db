#!/usr/bin/env python3
"""Builds the healthy-traffic corpus: ordinary browsing, API and app traffic
exported by several browsers and proxies, each file in the shape its
exporter writes. Nothing here is wrong: aadproxy analyze must find nothing
above info level in any of these files (cmd/aadproxy/corpus_test.go).

The traffic is synthetic (example.com/.net/.org, contoso.test, made-up
tokens with made-up signatures) but behaves the way browsers and servers
do: cookies go back where browsers send them (SameSite, Path, Domain,
partitioning and Strict twins included), caches answer with old Dates and
an Age, tokens are used within their lifetime.

Run it from this directory (python3 generate.py); it rewrites the files
beside it and is deterministic.
"""

import base64
import gzip
import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, quote

T0 = datetime(2025, 5, 14, 8, 30, 0, tzinfo=timezone.utc)

CHROME_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36"
EDGE_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36 Edg/136.0.0.0"
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:138.0) Gecko/20100101 Firefox/138.0"
SAFARI_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.4 Safari/605.1.15"
IOS_APP_UA = "Tally/4.12.0 (com.example.tally; build:4120; iOS 18.4.1) Alamofire/5.10.2"
SEC_CH_UA = '"Chromium";v="136", "Google Chrome";v="136", "Not.A/Brand";v="99"'


# --- helpers --------------------------------------------------------------

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def fake_sig(seed, n=256):
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}/{i}".encode()).digest()
        i += 1
    return b64url(out[:n])


def jwt(header, claims, seed):
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    c = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{h}.{c}.{fake_sig(seed)}"


def ts(dt):
    return int(dt.timestamp())


def http_date(dt):
    return format_datetime(dt.astimezone(timezone.utc).replace(microsecond=0), usegmt=True)


def cookie_date(dt):
    # The Netscape form most servers still write.
    return dt.astimezone(timezone.utc).strftime("%a, %d-%b-%Y %H:%M:%S GMT")


def pkce_pair(seed):
    verifier = b64url(hashlib.sha256(f"verifier/{seed}".encode()).digest() + hashlib.sha256(f"v2/{seed}".encode()).digest()[:8])
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge


def rnd(seed, n=32):
    return b64url(hashlib.sha256(seed.encode()).digest())[:n]


def hexid(seed, n=32):
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def guid(seed):
    h = hexid(seed, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def gz(b):
    return gzip.compress(b, mtime=0)


class Ex:
    """One exchange as a browser saw it. Header names are written as an
    HTTP/1.1 client or server would case them; exporters recase them the
    way they do for HTTP/2."""

    def __init__(self, at, method, url, req_headers=(), req_body=None, status=200, reason="OK",
                 resp_headers=(), resp_body="", mime=None, proto="h2", cache=None, kind="document",
                 initiator=None, priority="High", wait=40.0, receive=3.0, sw=False, ws_messages=None,
                 server_ip="93.184.215.14"):
        self.at = at
        self.method = method
        self.url = url
        self.req_headers = list(req_headers)
        self.req_body = req_body
        self.status = status
        self.reason = reason
        self.resp_headers = list(resp_headers)
        self.resp_body = resp_body if isinstance(resp_body, bytes) else resp_body.encode()
        self.mime = mime or (self.header("Content-Type") or "").split(";")[0] or "x-unknown"
        self.proto = proto
        self.cache = cache  # None, "memory" or "disk": the browser cache answered
        self.kind = kind
        self.initiator = initiator
        self.priority = priority
        self.wait = wait
        self.receive = receive
        self.sw = sw
        self.ws_messages = ws_messages
        self.server_ip = server_ip

    def header(self, name, resp=True):
        for k, v in (self.resp_headers if resp else self.req_headers):
            if k.lower() == name.lower():
                return v
        return None

    @property
    def host(self):
        return urlsplit(self.url).hostname

    @property
    def path_query(self):
        u = urlsplit(self.url)
        return u.path + ("?" + u.query if u.query else "")


def req_cookie_list(ex):
    out = []
    for k, v in ex.req_headers:
        if k.lower() == "cookie":
            for part in v.split(";"):
                if "=" in part:
                    n, val = part.strip().split("=", 1)
                    out.append((n, val))
    return out


def set_cookie_list(ex):
    out = []
    for k, v in ex.resp_headers:
        if k.lower() != "set-cookie":
            continue
        parts = [p.strip() for p in v.split(";")]
        n, val = parts[0].split("=", 1)
        c = {"name": n, "value": val}
        for a in parts[1:]:
            an, _, av = a.partition("=")
            al = an.lower()
            if al == "path":
                c["path"] = av
            elif al == "domain":
                c["domain"] = av
            elif al == "expires":
                c["expires"] = datetime.strptime(av, "%a, %d-%b-%Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
            elif al == "max-age":
                c["max-age"] = int(av)
            elif al == "httponly":
                c["httpOnly"] = True
            elif al == "secure":
                c["secure"] = True
            elif al == "samesite":
                c["sameSite"] = av
            elif al == "partitioned":
                c["partitioned"] = True
        out.append(c)
    return out


def query_list(url):
    return [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)]


def body_text(ex):
    """HAR content: decoded text, or base64 for binary."""
    b = ex.resp_body
    enc = (ex.header("Content-Encoding") or "").lower()
    if enc == "gzip":
        b = gzip.decompress(b)
    try:
        t = b.decode("utf-8")
        if any(ord(ch) < 9 for ch in t):
            raise UnicodeDecodeError("x", b"", 0, 1, "binary")
        return t, None, len(b)
    except UnicodeDecodeError:
        return base64.b64encode(b).decode(), "base64", len(b)


def iso_ms(dt, offset_hours=0):
    tz = timezone(timedelta(hours=offset_hours))
    s = dt.astimezone(tz).isoformat(timespec="milliseconds")
    if offset_hours == 0:
        s = s.replace("+00:00", "Z")
    return s


def nv(pairs):
    return [{"name": k, "value": v} for k, v in pairs]


def write_json(name, doc, indent=2):
    with open(name, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=indent, ensure_ascii=False)
        f.write("\n")


# --- Chrome / Edge DevTools ------------------------------------------------

def chrome_request_headers(ex):
    if ex.proto != "h2":
        return nv(ex.req_headers)
    u = urlsplit(ex.url)
    pseudo = [(":authority", u.netloc), (":method", ex.method), (":path", ex.path_query), (":scheme", u.scheme)]
    return nv(pseudo + [(k.lower(), v) for k, v in ex.req_headers if k.lower() not in ("host", "connection")])


def chrome_entry(ex, page, conn):
    text, enc, size = body_text(ex)
    content = {"size": size, "mimeType": ex.mime}
    if ex.resp_body or ex.status not in (204, 304, 101):
        content["text"] = text
    if enc:
        content["encoding"] = enc
    proto = {"h2": "http/2.0", "h1": "http/1.1", "h3": "h3"}[ex.proto]
    cached = ex.cache is not None
    transfer = 0 if cached else len(ex.resp_body) + 300
    e = {
        "_connectionId": "0" if cached else str(conn),
        "_initiator": ex.initiator or {"type": "other"},
        "_priority": ex.priority,
        "_resourceType": ex.kind,
        "cache": {},
        "connection": "" if cached else str(conn),
        "pageref": page,
        "request": {
            "method": ex.method,
            "url": ex.url,
            "httpVersion": proto,
            "headers": chrome_request_headers(ex),
            "queryString": query_list(ex.url),
            "cookies": [{"name": n, "value": v, "path": "/", "domain": ex.host, "expires": "1969-12-31T23:59:59.000Z",
                         "httpOnly": False, "secure": True} for n, v in req_cookie_list(ex)],
            "headersSize": -1,
            "bodySize": len(ex.req_body) if ex.req_body else 0,
        },
        "response": {
            "status": ex.status,
            "statusText": ex.reason if ex.proto == "h1" else "",
            "httpVersion": proto,
            "headers": nv([(k.lower(), v) for k, v in ex.resp_headers] if ex.proto == "h2" else ex.resp_headers),
            "cookies": [chrome_set_cookie(c) for c in set_cookie_list(ex)],
            "content": content,
            "redirectURL": ex.header("Location") or "",
            "headersSize": -1,
            "bodySize": -1 if cached else len(ex.resp_body),
            "_transferSize": transfer,
            "_error": None,
            "_fetchedViaServiceWorker": ex.sw,
        },
        "serverIPAddress": "" if cached else ex.server_ip,
        "startedDateTime": iso_ms(ex.at),
        "time": 0.412 if cached else ex.wait + ex.receive + 1.5,
        "timings": {
            "blocked": 0.3 if cached else 1.214,
            "dns": -1,
            "ssl": -1,
            "connect": -1,
            "send": 0 if cached else 0.171,
            "wait": 0.05 if cached else ex.wait,
            "receive": 0.062 if cached else ex.receive,
            "_blocked_queueing": 0.2 if cached else 0.913,
            "_workerStart": -1,
            "_workerReady": -1,
            "_workerFetchStart": -1,
            "_workerRespondWithSettled": -1,
        },
    }
    if ex.req_body is not None:
        e["request"]["postData"] = {"mimeType": ex.header("Content-Type", resp=False) or "", "text": ex.req_body}
        if (ex.header("Content-Type", resp=False) or "").startswith("application/x-www-form-urlencoded"):
            e["request"]["postData"]["params"] = [{"name": k, "value": v} for k, v in parse_qsl(ex.req_body)]
    if cached:
        e["_fromCache"] = ex.cache
    if ex.ws_messages is not None:
        e["_webSocketMessages"] = ex.ws_messages
    return e


def chrome_set_cookie(c):
    out = {"name": c["name"], "value": c["value"], "path": c.get("path", "/"), "domain": c.get("domain", ""),
           "expires": (c["expires"].isoformat(timespec="milliseconds").replace("+00:00", "Z") if "expires" in c else None),
           "httpOnly": c.get("httpOnly", False), "secure": c.get("secure", False)}
    if "sameSite" in c:
        out["sameSite"] = c["sameSite"]
    return out


def chrome_har(name, pages, exchanges, creator_version="537.36"):
    entries = []
    conn = 48213
    for ex, page in exchanges:
        conn += 3
        entries.append(chrome_entry(ex, page, conn))
    doc = {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": creator_version},
                   "pages": pages, "entries": entries}}
    write_json(name, doc, indent=2)


# --- Firefox ----------------------------------------------------------------

def firefox_entry(ex, page, offset):
    text, enc, size = body_text(ex)
    content = {"mimeType": ex.mime, "size": size, "text": text}
    if enc:
        content["encoding"] = enc
    proto = {"h2": "HTTP/2", "h1": "HTTP/1.1", "h3": "HTTP/3"}[ex.proto]
    req_h = [("Host", urlsplit(ex.url).netloc)] + [(k, v) for k, v in ex.req_headers if k.lower() != "host"]
    resp_h = [(k.lower(), v) for k, v in ex.resp_headers] if ex.proto == "h2" else ex.resp_headers
    e = {
        "pageref": page,
        "startedDateTime": iso_ms(ex.at, offset),
        "request": {
            "bodySize": len(ex.req_body) if ex.req_body else 0,
            "method": ex.method,
            "url": ex.url,
            "httpVersion": proto,
            "headers": nv(req_h),
            "cookies": [{"name": n, "value": v} for n, v in req_cookie_list(ex)],
            "queryString": query_list(ex.url),
            "headersSize": sum(len(k) + len(v) + 4 for k, v in req_h) + len(ex.path_query) + 14,
        },
        "response": {
            "status": ex.status,
            "statusText": ex.reason,
            "httpVersion": proto,
            "headers": nv(resp_h),
            "cookies": [firefox_set_cookie(c) for c in set_cookie_list(ex)],
            "content": content,
            "redirectURL": ex.header("Location") or "",
            "headersSize": sum(len(k) + len(v) + 4 for k, v in resp_h) + 17,
            "bodySize": 0 if ex.cache else len(ex.resp_body) + sum(len(k) + len(v) + 4 for k, v in resp_h) + 17,
        },
        "cache": {},
        "timings": {"blocked": 0 if ex.cache else 1, "dns": 0, "connect": 0, "ssl": 0, "send": 0,
                    "wait": 0 if ex.cache else round(ex.wait), "receive": 0 if ex.cache else round(ex.receive)},
        "time": 0 if ex.cache else round(ex.wait + ex.receive + 1),
        "_securityState": "secure" if ex.url.startswith("https") or ex.url.startswith("wss") else "insecure",
        "serverIPAddress": ex.server_ip,
        "connection": "443" if ex.url.startswith("https") else "80",
    }
    if ex.req_body is not None:
        ct = ex.header("Content-Type", resp=False) or ""
        pd = {"mimeType": ct, "params": [], "text": ex.req_body}
        if ct.startswith("application/x-www-form-urlencoded"):
            pd["params"] = [{"name": k, "value": v} for k, v in parse_qsl(ex.req_body)]
        e["request"]["postData"] = pd
    if ex.cache:
        # Firefox writes the cache entry it used; a network answer has none.
        e["cache"] = {"afterRequest": {"expires": iso_ms(ex.at + timedelta(days=30), offset),
                                       "lastFetched": iso_ms(ex.at - timedelta(days=2), offset),
                                       "eTag": "", "hitCount": 3}}
    return e


def firefox_set_cookie(c):
    out = {"name": c["name"], "value": c["value"]}
    for k in ("path", "domain"):
        if k in c:
            out[k] = c[k]
    if "expires" in c:
        out["expires"] = c["expires"].isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if c.get("httpOnly"):
        out["httpOnly"] = True
    if c.get("secure"):
        out["secure"] = True
    if "sameSite" in c:
        out["sameSite"] = c["sameSite"]
    return out


def firefox_har(name, pages, exchanges, offset=2):
    doc = {"log": {"version": "1.2", "creator": {"name": "Firefox", "version": "138.0"},
                   "browser": {"name": "Firefox", "version": "138.0"},
                   "pages": pages,
                   "entries": [firefox_entry(ex, page, offset) for ex, page in exchanges]}}
    write_json(name, doc, indent=2)


# --- Safari (WebKit Web Inspector) -------------------------------------------

def safari_entry(ex, page):
    text, enc, size = body_text(ex)
    content = {"size": size, "compression": 0, "mimeType": ex.mime, "text": text}
    if enc:
        content["encoding"] = enc
    proto = {"h2": "HTTP/2", "h1": "HTTP/1.1", "h3": "HTTP/3"}[ex.proto]
    fetch_type = {"memory": "Memory Cache", "disk": "Disk Cache", None: "Network Load"}[ex.cache]
    e = {
        "pageref": page,
        "startedDateTime": iso_ms(ex.at),
        "time": 0 if ex.cache else ex.wait + ex.receive + 2.1,
        "request": {
            "method": ex.method,
            "url": ex.url,
            "httpVersion": proto,
            "cookies": [{"name": n, "value": v} for n, v in req_cookie_list(ex)],
            "headers": nv(ex.req_headers),
            "queryString": query_list(ex.url),
            "headersSize": -1,
            "bodySize": len(ex.req_body) if ex.req_body else 0,
        },
        "response": {
            "status": ex.status,
            "statusText": ex.reason,
            "httpVersion": proto,
            "cookies": [firefox_set_cookie(c) for c in set_cookie_list(ex)],
            "headers": nv(ex.resp_headers),
            "content": content,
            "redirectURL": ex.header("Location") or "",
            "headersSize": -1,
            "bodySize": -1 if ex.cache else len(ex.resp_body),
        },
        "cache": {},
        "timings": {"blocked": -1 if ex.cache else 0.4, "dns": -1, "connect": -1, "ssl": -1,
                    "send": 0 if ex.cache else 0.1, "wait": 0 if ex.cache else ex.wait,
                    "receive": 0 if ex.cache else ex.receive},
        "serverIPAddress": "" if ex.cache else ex.server_ip,
        "connection": "" if ex.cache else "1",
        "_fetchType": fetch_type,
        "_priority": {"VeryHigh": "high", "High": "high", "Medium": "medium", "Low": "low", "VeryLow": "low"}[ex.priority],
    }
    if ex.req_body is not None:
        e["request"]["postData"] = {"mimeType": ex.header("Content-Type", resp=False) or "", "text": ex.req_body,
                                    "params": []}
    return e


def safari_har(name, pages, exchanges):
    doc = {"log": {"version": "1.2", "creator": {"name": "WebKit Web Inspector", "version": "1.0"},
                   "pages": pages, "entries": [safari_entry(ex, page) for ex, page in exchanges]}}
    write_json(name, doc, indent=2)


# --- Charles Proxy -----------------------------------------------------------

def charles_entry(ex, offset):
    text, enc, size = body_text(ex)
    if ex.mime.startswith("image/") or ex.mime.startswith("font/"):
        text, enc = base64.b64encode(ex.resp_body).decode(), "base64"
    content = {"size": size, "mimeType": ex.mime, "text": text, "comment": ""}
    if enc:
        content["encoding"] = enc
    proto = "HTTP/2.0" if ex.proto == "h2" else "HTTP/1.1"
    req_h = ex.req_headers
    if ex.proto == "h2":
        u = urlsplit(ex.url)
        req_h = [(":method", ex.method), (":authority", u.netloc), (":scheme", u.scheme), (":path", ex.path_query)] + \
                [(k.lower(), v) for k, v in ex.req_headers if k.lower() != "host"]
    resp_h = [(":status", str(ex.status))] + [(k.lower(), v) for k, v in ex.resp_headers] if ex.proto == "h2" else ex.resp_headers
    e = {
        "startedDateTime": iso_ms(ex.at, offset),
        "time": round(ex.wait + ex.receive + 1),
        "request": {
            "method": ex.method,
            "url": ex.url,
            "httpVersion": proto,
            "cookies": [{"name": n, "value": v} for n, v in req_cookie_list(ex)],
            "headers": nv(req_h),
            "queryString": query_list(ex.url),
            "headersSize": sum(len(k) + len(v) + 4 for k, v in req_h),
            "bodySize": len(ex.req_body) if ex.req_body else 0,
            "comment": "",
        },
        "response": {
            "_charlesStatus": "COMPLETE",
            "status": ex.status,
            "statusText": ex.reason,
            "httpVersion": proto,
            "cookies": [firefox_set_cookie(c) for c in set_cookie_list(ex)],
            "headers": nv(resp_h),
            "content": content,
            "redirectURL": ex.header("Location"),
            "headersSize": sum(len(k) + len(v) + 4 for k, v in resp_h),
            "bodySize": len(ex.resp_body),
            "comment": "",
        },
        "serverIPAddress": ex.server_ip,
        "cache": {},
        "timings": {"dns": -1, "connect": -1, "ssl": -1, "send": 1, "wait": round(ex.wait), "receive": round(ex.receive)},
        "comment": "",
    }
    if ex.req_body is not None:
        e["request"]["postData"] = {"mimeType": ex.header("Content-Type", resp=False), "text": ex.req_body, "comment": ""}
    return e


def charles_har(name, exchanges, offset=-7):
    doc = {"log": {"version": "1.2", "creator": {"name": "Charles Proxy", "version": "5.0.1"},
                   "entries": [charles_entry(ex, offset) for ex in exchanges]}}
    write_json(name, doc, indent=2)


# --- Insomnia ----------------------------------------------------------------

def insomnia_entry(ex, comment):
    text, enc, size = body_text(ex)
    e = {
        "startedDateTime": iso_ms(ex.at),
        "time": round(ex.wait + ex.receive, 3),
        "request": {
            "method": ex.method,
            "url": ex.url,
            "httpVersion": "HTTP/1.1",
            "cookies": [{"name": n, "value": v} for n, v in req_cookie_list(ex)],
            "headers": nv(ex.req_headers),
            "queryString": query_list(ex.url),
            "postData": {"mimeType": ex.header("Content-Type", resp=False) or "", "text": ex.req_body or "", "params": []},
            "headersSize": -1,
            "bodySize": -1,
        },
        "response": {
            "status": ex.status,
            "statusText": ex.reason,
            "httpVersion": "HTTP/1.1",
            "cookies": [{"name": c["name"], "value": c["value"], "path": c.get("path"), "domain": c.get("domain", ex.host),
                         "expires": c["expires"].isoformat(timespec="milliseconds").replace("+00:00", "Z") if "expires" in c else None,
                         "httpOnly": c.get("httpOnly", False), "secure": c.get("secure", False)} for c in set_cookie_list(ex)],
            "headers": nv(ex.resp_headers),
            "content": {"size": size, "mimeType": ex.mime, "text": text},
            "redirectURL": ex.header("Location") or "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": round(ex.wait + ex.receive, 3), "receive": 0, "ssl": -1},
        "comment": comment,
    }
    return e


def insomnia_har(name, exchanges):
    doc = {"log": {"version": "1.2", "creator": {"name": "Insomnia REST Client", "version": "insomnia.desktop.app:v11.1.0"},
                   "entries": [insomnia_entry(ex, c) for ex, c in exchanges]}}
    write_json(name, doc, indent=2)


# --- mitmproxy (hardump / save.har) -----------------------------------------

def mitm_entry(ex, servers_seen):
    text, enc, size = body_text(ex)
    raw = ex.resp_body
    key = ex.host
    if key in servers_seen:
        connect, ssl = -1.0, -1.0
    else:
        connect, ssl = 18.532, 24.117 if ex.url.startswith(("https", "wss")) else None
        servers_seen.add(key)
    timings = {"connect": connect, "ssl": ssl, "send": 0.412, "receive": ex.receive, "wait": ex.wait}
    proto = "HTTP/2.0" if ex.proto == "h2" else "HTTP/1.1"
    req_h = [(k.lower(), v) for k, v in ex.req_headers] if ex.proto == "h2" else ex.req_headers
    resp_h = [(k.lower(), v) for k, v in ex.resp_headers] if ex.proto == "h2" else ex.resp_headers
    resp = {
        "status": ex.status,
        "statusText": ex.reason if ex.proto != "h2" else "",
        "httpVersion": proto,
        "cookies": [{"name": c["name"], "value": c["value"], "path": c.get("path", "/"), "domain": c.get("domain", ""),
                     "httpOnly": c.get("httpOnly", False), "secure": c.get("secure", False),
                     **({"sameSite": c["sameSite"]} if "sameSite" in c else {})} for c in set_cookie_list(ex)],
        "headers": nv(resp_h),
        "content": {"size": len(raw), "compression": size - len(raw), "mimeType": ex.header("Content-Type") or ""},
        "redirectURL": ex.header("Location") or "",
        "headersSize": sum(len(k) + len(v) + 4 for k, v in resp_h),
        "bodySize": len(raw),
    }
    resp["content"]["text"] = text
    if enc:
        resp["content"]["encoding"] = enc
    e = {
        "startedDateTime": ex.at.isoformat(timespec="microseconds"),
        "time": sum(v for v in timings.values() if v is not None and v >= 0),
        "request": {
            "method": ex.method,
            "url": ex.url,
            "httpVersion": proto,
            "cookies": [{"name": n, "value": v} for n, v in req_cookie_list(ex)],
            "headers": nv(req_h),
            "queryString": query_list(ex.url),
            "headersSize": sum(len(k) + len(v) + 4 for k, v in req_h),
            "bodySize": len(ex.req_body) if ex.req_body else 0,
        },
        "response": resp,
        "cache": {},
        "timings": timings,
    }
    if ex.method in ("POST", "PUT", "PATCH"):
        ct = ex.header("Content-Type", resp=False) or ""
        e["request"]["postData"] = {"mimeType": ct, "text": ex.req_body or "",
                                    "params": [{"name": k, "value": v} for k, v in parse_qsl(ex.req_body or "")]
                                    if ct.startswith("application/x-www-form-urlencoded") else []}
    e["serverIPAddress"] = ex.server_ip
    if ex.ws_messages is not None:
        e["_resourceType"] = "websocket"
        e["_webSocketMessages"] = ex.ws_messages
    return e


def mitm_har(name, exchanges):
    seen = set()
    doc = {"log": {"version": "1.2",
                   "creator": {"name": "mitmproxy exporthar", "version": "0.1", "comment": "mitmproxy version 11.1.3"},
                   "pages": [], "entries": [mitm_entry(ex, seen) for ex in exchanges]}}
    write_json(name, doc, indent=2)


# --- Fiddler Classic SAZ ----------------------------------------------------

def fiddler_time(dt, offset=-5):
    tz = timezone(timedelta(hours=offset))
    s = dt.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return s + "0" + dt.astimezone(tz).strftime("%z")[:3] + ":" + dt.astimezone(tz).strftime("%z")[3:]


def saz(name, sessions):
    """sessions: list of (Ex, process) — Fiddler writes what crossed the
    wire: a CONNECT tunnel as its own session, HTTPS requests with the
    absolute URL on the request line, bodies as sent (gzip, chunked)."""
    buf = io.BytesIO()
    z = zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED)
    z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="utf-8" ?>\r\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\r\n<Default Extension="htm" ContentType="text/html" />\r\n<Default Extension="xml" ContentType="application/xml" />\r\n<Default Extension="txt" ContentType="text/plain" />\r\n</Types>')
    rows = []
    width = max(2, len(str(len(sessions))))
    port = 52311
    for i, (ex, process) in enumerate(sessions, 1):
        n = str(i).zfill(width)
        https = ex.url.startswith("https://")
        if ex.method == "CONNECT":
            line = f"CONNECT {ex.url} HTTP/1.1"
        else:
            line = f"{ex.method} {ex.url} HTTP/1.1"
        head = [line] + [f"{k}: {v}" for k, v in ex.req_headers]
        req = ("\r\n".join(head) + "\r\n\r\n").encode() + (ex.req_body.encode() if ex.req_body else b"")
        resp_head = [f"HTTP/1.1 {ex.status} {ex.reason}"] + [f"{k}: {v}" for k, v in ex.resp_headers]
        body = ex.resp_body
        if (ex.header("Transfer-Encoding") or "").lower() == "chunked":
            chunks = b""
            for j in range(0, len(body), 512):
                part = body[j:j + 512]
                chunks += f"{len(part):x}\r\n".encode() + part + b"\r\n"
            body = chunks + b"0\r\n\r\n"
        resp = ("\r\n".join(resp_head) + "\r\n\r\n").encode() + body
        port += 1
        begin = ex.at
        done = begin + timedelta(milliseconds=ex.wait + ex.receive + 2)
        bits = 0x1 if https else 0
        reused = ex.method != "CONNECT" and i > 2
        if reused:
            bits |= 0x10
        t = lambda d: fiddler_time(d)
        meta = f'''<?xml version="1.0" encoding="utf-8"?>
<Session SID="{i}" BitFlags="{bits:x}">
  <SessionTimers ClientConnected="{t(begin - timedelta(milliseconds=3))}" ClientBeginRequest="{t(begin)}" GotRequestHeaders="{t(begin)}" ClientDoneRequest="{t(begin + timedelta(milliseconds=1))}" GatewayTime="0" DNSTime="{0 if reused else 4}" TCPConnectTime="{0 if reused else 21}" HTTPSHandshakeTime="{0 if reused or not https else 37}" ServerConnected="{t(begin + timedelta(milliseconds=1))}" FiddlerBeginRequest="{t(begin + timedelta(milliseconds=1))}" ServerGotRequest="{t(begin + timedelta(milliseconds=2))}" ServerBeginResponse="{t(begin + timedelta(milliseconds=2 + ex.wait))}" GotResponseHeaders="{t(begin + timedelta(milliseconds=2 + ex.wait))}" ServerDoneResponse="{t(done)}" ClientBeginResponse="{t(begin + timedelta(milliseconds=2 + ex.wait))}" ClientDoneResponse="{t(done)}" />
  <PipeInfo{' CltReuse="true"' if reused else ''}{' Reused="true"' if reused else ''} />
  <SessionFlags>
    <SessionFlag N="x-responsebodytransferlength" V="{len(ex.resp_body)}" />
    <SessionFlag N="x-egressport" V="{port + 1000}" />
    <SessionFlag N="x-autoauth" V="(default)" />
    <SessionFlag N="x-processinfo" V="{process}" />
    <SessionFlag N="x-clientport" V="{port}" />
    <SessionFlag N="x-clientip" V="127.0.0.1" />
    <SessionFlag N="x-hostip" V="{ex.server_ip}" />
    <SessionFlag N="x-serversocket" V="{'REUSE ServerPipe#' + str(40 + i) if reused else 'GATEWAY:Direct'}" />
  </SessionFlags>
</Session>'''
        z.writestr(f"raw/{n}_c.txt", req)
        z.writestr(f"raw/{n}_s.txt", resp)
        z.writestr(f"raw/{n}_m.xml", meta.replace("\n", "\r\n"))
        rows.append(f"<tr><TD><a href='raw\\{n}_c.txt'>C</a>&nbsp;<a href='raw\\{n}_s.txt'>S</a>&nbsp;<a href='raw\\{n}_m.xml'>M</a></TD><td>{i}</td><td>{ex.status}</td><td>{'HTTPS' if https else 'HTTP'}</td><td>{ex.host}</td><td>{urlsplit(ex.url).path or ex.url}</td><td>{len(ex.resp_body)}</td><td>{ex.header('Cache-Control') or ''}</td><td>{ex.header('Content-Type') or ''}</td><td>{process}</td><td></td><td></td></tr>")
    z.writestr("_index.htm", "<html><head><style>body,thead,td,a,p{font-family:verdana,sans-serif;font-size: 10px;}</style></head><body><table cols=12><thead><tr><th>&nbsp;</th><th>#</th><th>Result</th><th>Protocol</th><th>Host</th><th>URL</th><th>Body</th><th>Caching</th><th>Content-Type</th><th>Process</th><th>Comments</th><th>Custom</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></body></html>")
    z.close()
    with open(name, "wb") as f:
        f.write(buf.getvalue())


# --- shared content ---------------------------------------------------------

def html(title, extra=""):
    return f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><link rel=\"stylesheet\" href=\"https://cdn.example.net/assets/site.8c1d.css\"></head><body><main id=\"app\">{extra}</main><script src=\"https://cdn.example.net/assets/app.3f9a.js\" defer></script></body></html>"


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
WOFF2 = b"wOF2\x00\x01\x00\x00" + hashlib.sha256(b"font").digest() * 4
JS = b"(()=>{\"use strict\";const e=document.getElementById(\"app\");fetch(\"/api/articles?page=2\",{credentials:\"same-origin\"}).then(t=>t.json()).then(t=>{e.dataset.count=t.items.length});})();\n"
CSS = b":root{--fg:#1b1b1f;--bg:#fff}body{margin:0;font:16px/1.5 Inter,system-ui,sans-serif;color:var(--fg);background:var(--bg)}\n"


def nav_headers(ua, site="none", cookie=None, referer=None, chrome=True, upgrade=True):
    h = []
    if chrome:
        h += [("sec-ch-ua", SEC_CH_UA), ("sec-ch-ua-mobile", "?0"), ("sec-ch-ua-platform", '"Windows"')]
    if upgrade:
        h.append(("Upgrade-Insecure-Requests", "1"))
    h += [("User-Agent", ua),
          ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"),
          ("Sec-Fetch-Site", site), ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-User", "?1"), ("Sec-Fetch-Dest", "document")]
    if referer:
        h.append(("Referer", referer))
    h += [("Accept-Encoding", "gzip, deflate, br, zstd"), ("Accept-Language", "en-US,en;q=0.9")]
    if cookie:
        h.append(("Cookie", cookie))
    return h


def sub_headers(ua, dest, site, referer, cookie=None, accept="*/*", mode="no-cors", origin=None, chrome=True):
    h = []
    if chrome:
        h += [("sec-ch-ua-platform", '"Windows"'), ("sec-ch-ua", SEC_CH_UA), ("sec-ch-ua-mobile", "?0")]
    h += [("User-Agent", ua), ("Accept", accept)]
    if origin:
        h.append(("Origin", origin))
    h += [("Sec-Fetch-Site", site), ("Sec-Fetch-Mode", mode), ("Sec-Fetch-Dest", dest), ("Referer", referer),
          ("Accept-Encoding", "gzip, deflate, br, zstd"), ("Accept-Language", "en-US,en;q=0.9")]
    if cookie:
        h.append(("Cookie", cookie))
    return h


def srv(at, ctype, extra=(), cache="no-cache", server="nginx"):
    return [("Date", http_date(at)), ("Content-Type", ctype), ("Cache-Control", cache), ("Server", server)] + list(extra)


# --- Chrome: shopping, news, a GitHub sign-in, an SPA with its API ---------

def chrome_browsing():
    ua = CHROME_UA
    t = T0
    x = []
    p1, p2, p3, p4 = "page_1", "page_2", "page_3", "page_4"
    sess, visitor = rnd("shop_session"), rnd("shop_visitor")
    # Page 1: the shop, reached over http first.
    x.append((Ex(t, "GET", "http://shop.example.com/", nav_headers(ua), proto="h1", status=301, reason="Moved Permanently",
                 resp_headers=[("Server", "nginx"), ("Date", http_date(t)), ("Content-Type", "text/html"), ("Content-Length", "162"),
                               ("Connection", "keep-alive"), ("Location", "https://shop.example.com/")],
                 resp_body="<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"), p1))
    t += timedelta(milliseconds=180)
    x.append((Ex(t, "GET", "https://shop.example.com/", nav_headers(ua),
                 resp_headers=srv(t, "text/html; charset=utf-8", [
                     ("Set-Cookie", f"shop_session={sess}; Path=/; Secure; HttpOnly; SameSite=Lax"),
                     ("Set-Cookie", f"shop_visitor={visitor}; Max-Age=31536000; Path=/; Secure; SameSite=None"),
                     ("Set-Cookie", "currency=USD; Max-Age=2592000; Path=/; SameSite=Lax"),
                     ("Strict-Transport-Security", "max-age=63072000")], cache="private, no-cache"),
                 resp_body=html("Example Shop", '<form action="/search" method="get"><input name="q" type="search"></form><a href="/promo/summer">Summer sale</a>')), p1))
    css_date = t - timedelta(days=3, hours=2)
    x.append((Ex(t + timedelta(milliseconds=90), "GET", "https://cdn.example.net/assets/site.8c1d.css",
                 sub_headers(ua, "style", "cross-site", "https://shop.example.com/", accept="text/css,*/*;q=0.1"),
                 resp_headers=[("Date", http_date(css_date)), ("Content-Type", "text/css"), ("Cache-Control", "public, max-age=31536000, immutable"),
                               ("ETag", '"8c1d"'), ("Last-Modified", http_date(css_date - timedelta(days=20)))],
                 resp_body=CSS, cache="disk", kind="stylesheet", priority="VeryHigh",
                 initiator={"type": "parser", "url": "https://shop.example.com/", "lineNumber": 0, "columnNumber": 98}), p1))
    # A CDN hit that keeps the origin's Date and says how long it kept it.
    age = 14777
    x.append((Ex(t + timedelta(milliseconds=95), "GET", "https://cdn.example.net/assets/app.3f9a.js",
                 sub_headers(ua, "script", "cross-site", "https://shop.example.com/"),
                 resp_headers=[("Date", http_date(t - timedelta(seconds=age))), ("Content-Type", "application/javascript"),
                               ("Cache-Control", "public, max-age=31536000, immutable"), ("Age", str(age)), ("X-Cache", "HIT"),
                               ("Via", "1.1 varnish"), ("Accept-Ranges", "bytes"), ("ETag", '"3f9a"')],
                 resp_body=JS, kind="script", priority="Low", server_ip="151.101.2.132",
                 initiator={"type": "parser", "url": "https://shop.example.com/", "lineNumber": 0, "columnNumber": 260}), p1))
    x.append((Ex(t + timedelta(milliseconds=140), "GET", "https://cdn.example.net/img/hero.png",
                 sub_headers(ua, "image", "cross-site", "https://shop.example.com/", accept="image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
                 resp_headers=[("Date", http_date(t - timedelta(days=1))), ("Content-Type", "image/png"), ("Cache-Control", "public, max-age=604800")],
                 resp_body=PNG, cache="memory", kind="image", priority="Low"), p1))
    # A revalidation answered 304 by the origin.
    x.append((Ex(t + timedelta(milliseconds=150), "GET", "https://cdn.example.net/fonts/inter-var.woff2",
                 sub_headers(ua, "font", "cross-site", "https://cdn.example.net/assets/site.8c1d.css", origin="https://shop.example.com", mode="cors") + [("If-None-Match", '"f-91ab"')],
                 status=304, reason="Not Modified",
                 resp_headers=[("Date", http_date(t + timedelta(milliseconds=150))), ("ETag", '"f-91ab"'), ("Cache-Control", "public, max-age=86400"),
                               ("Access-Control-Allow-Origin", "*"), ("X-Cache", "MISS")],
                 resp_body="", kind="font", priority="VeryHigh"), p1))
    x.append((Ex(t + timedelta(milliseconds=420), "POST", "https://analytics.example.org/collect?v=2&tid=EX-1234&cid=555.777",
                 sub_headers(ua, "empty", "cross-site", "https://shop.example.com/", mode="no-cors", origin="https://shop.example.com") +
                 [("Content-Type", "text/plain;charset=UTF-8"), ("Cookie", "_ea_uid=EA1.2.555.777")],
                 req_body="en=page_view&dl=https%3A%2F%2Fshop.example.com%2F&dt=Example%20Shop", status=204, reason="No Content",
                 resp_headers=[("Date", http_date(t + timedelta(milliseconds=420))), ("Access-Control-Allow-Origin", "https://shop.example.com"),
                               ("Access-Control-Allow-Credentials", "true"), ("Cache-Control", "no-cache, no-store, must-revalidate"),
                               ("Server", "Golfe2")],
                 resp_body="", kind="ping", priority="VeryLow", server_ip="142.250.74.46"), p1))
    x.append((Ex(t + timedelta(milliseconds=600), "GET", "https://shop.example.com/favicon.ico",
                 sub_headers(ua, "image", "same-origin", "https://shop.example.com/", cookie=f"shop_session={sess}; shop_visitor={visitor}; currency=USD",
                             accept="image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
                 status=404, reason="Not Found", resp_headers=srv(t, "text/html; charset=utf-8"),
                 resp_body="<html><body><h1>404 Not Found</h1></body></html>", kind="other", priority="High"), p1))
    # A summer promotion that lands on the checkout with a coupon: code= here
    # is a coupon, and the address form's validation text says "Invalid state".
    t += timedelta(seconds=9)
    x.append((Ex(t, "GET", "https://shop.example.com/promo/summer",
                 nav_headers(ua, "same-origin", f"shop_session={sess}; shop_visitor={visitor}; currency=USD", "https://shop.example.com/"),
                 status=302, reason="Found",
                 resp_headers=srv(t, "text/html; charset=utf-8", [("Location", "/checkout?code=SUMMER24&utm_source=home")]), resp_body=""), p1))
    x.append((Ex(t + timedelta(milliseconds=60), "GET", "https://shop.example.com/checkout?code=SUMMER24&utm_source=home",
                 nav_headers(ua, "same-origin", f"shop_session={sess}; shop_visitor={visitor}; currency=USD", "https://shop.example.com/"),
                 resp_headers=srv(t, "text/html; charset=utf-8", cache="private, no-store"),
                 resp_body=html("Checkout", '<p class="coupon">Coupon SUMMER24 applied: 20% off</p><form method="post" action="/checkout/address">'
                                '<input name="line1"><input name="city"><select name="state" data-error="Invalid state"><option>CA</option></select>'
                                '<input type="hidden" name="csrfmiddlewaretoken" value="' + rnd("csrf") + '"></form>'),
                 ), p1))
    x[-1][0].resp_headers.append(("Set-Cookie", "checkout_state=address; Path=/; Secure; SameSite=Lax"))
    # The order is placed; the checkout's script deletes checkout_state
    # (document.cookie, which no response shows) before the next page.
    x.append((Ex(t + timedelta(seconds=5), "GET", "https://shop.example.com/orders/7731",
                 nav_headers(ua, "same-origin", f"shop_session={sess}; shop_visitor={visitor}; currency=USD", "https://shop.example.com/checkout"),
                 resp_headers=srv(t + timedelta(seconds=5), "text/html; charset=utf-8", cache="private, no-store"),
                 resp_body=html("Order 7731", "<p>Thank you! Your order is on its way.</p>")), p1))
    # Page 2: a news site that embeds the shop's deals banner (a cross-site
    # image: the Lax session cookie stays home, the SameSite=None one goes).
    t += timedelta(seconds=20)
    x.append((Ex(t, "GET", "https://news.example.org/", nav_headers(ua),
                 resp_headers=srv(t, "text/html; charset=utf-8", [
                     ("Set-Cookie", "np_consent=necessary; Path=/; Max-Age=15552000; SameSite=Lax; Secure")]),
                 resp_body=html("Example News", '<img src="https://shop.example.com/widget/deals.png">')), p2))
    x.append((Ex(t + timedelta(milliseconds=200), "GET", "https://shop.example.com/widget/deals.png",
                 sub_headers(ua, "image", "cross-site", "https://news.example.org/", cookie=f"shop_visitor={visitor}",
                             accept="image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
                 resp_headers=srv(t, "image/png", cache="public, max-age=300"), resp_body=PNG, kind="image", priority="Low"), p2))
    # An embedded comments widget in a cross-site iframe sets a partitioned
    # session (CHIPS); a later top-level visit to the widget's site does not
    # get that partitioned cookie, by design.
    x.append((Ex(t + timedelta(milliseconds=260), "GET", "https://comments.example.net/embed?thread=4512",
                 [("Upgrade-Insecure-Requests", "1"), ("User-Agent", ua), ("Accept", "text/html,*/*;q=0.8"),
                  ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Dest", "iframe"),
                  ("Referer", "https://news.example.org/"), ("Accept-Encoding", "gzip, deflate, br, zstd")],
                 resp_headers=srv(t, "text/html; charset=utf-8", [
                     ("Set-Cookie", "__Host-embed_sid=" + rnd("embed") + "; Path=/; Secure; HttpOnly; SameSite=None; Partitioned")]),
                 resp_body="<!doctype html><div id=comments></div>", kind="document", priority="VeryHigh"), p2))
    # Long polling for live scores: the answer comes 25 s later.
    x.append((Ex(t + timedelta(seconds=1), "GET", "https://news.example.org/live/poll?since=1747211400",
                 sub_headers(ua, "empty", "same-origin", "https://news.example.org/", cookie="np_consent=necessary", accept="application/json", mode="cors"),
                 resp_headers=srv(t + timedelta(seconds=26), "application/json"), resp_body='{"events":[{"id":77,"minute":63,"text":"Goal!"}]}',
                 wait=25012.0, kind="fetch"), p2))
    # Page 3: signed in to the code host, then an app signs in with it.
    t += timedelta(seconds=60)
    gh = "https://github.com"
    ghs, us, octo = rnd("gh_sess"), rnd("user_session"), "GH1.1.1234567.1747211000"
    x.append((Ex(t, "POST", gh + "/session",
                 [("Cache-Control", "max-age=0")] + nav_headers(ua, "same-origin", f"_octo={octo}; _gh_sess={ghs}", gh + "/login") +
                 [("Origin", gh), ("Content-Type", "application/x-www-form-urlencoded")],
                 req_body=urlencode({"commit": "Sign in", "authenticity_token": rnd("gh_csrf", 43), "login": "octo-dev", "password": "correct horse battery", "webauthn-support": "supported"}),
                 status=302, reason="Found",
                 resp_headers=srv(t, "text/html; charset=utf-8", [
                     ("Location", gh + "/"),
                     ("Set-Cookie", f"user_session={us}; path=/; expires={cookie_date(t + timedelta(days=14))}; secure; HttpOnly; SameSite=Lax"),
                     ("Set-Cookie", f"__Host-user_session_same_site={us}; path=/; expires={cookie_date(t + timedelta(days=14))}; secure; HttpOnly; SameSite=Strict"),
                     ("Set-Cookie", f"logged_in=yes; domain=github.com; path=/; expires={cookie_date(t + timedelta(days=365))}; secure; HttpOnly; SameSite=Lax"),
                     ("Set-Cookie", f"dotcom_user=octo-dev; domain=github.com; path=/; expires={cookie_date(t + timedelta(days=365))}; secure; HttpOnly; SameSite=Lax"),
                     ("Set-Cookie", f"_gh_sess={ghs}2; path=/; secure; HttpOnly; SameSite=Lax")], server="github.com"),
                 server_ip="140.82.121.4"), p3))
    ghcookie = f"_octo={octo}; _gh_sess={ghs}2; user_session={us}; __Host-user_session_same_site={us}; logged_in=yes; dotcom_user=octo-dev"
    x.append((Ex(t + timedelta(milliseconds=300), "GET", gh + "/", nav_headers(ua, "same-origin", ghcookie, gh + "/login"),
                 resp_headers=srv(t, "text/html; charset=utf-8", server="github.com"), resp_body=html("GitHub"), server_ip="140.82.121.4"), p3))
    state = rnd("gh_state", 40)
    cb = "https://app.example.com/auth/github/callback"
    t += timedelta(seconds=30)
    x.append((Ex(t, "GET", "https://app.example.com/login/github", nav_headers(ua, "same-origin", None, "https://app.example.com/login"),
                 status=302, reason="Found",
                 resp_headers=srv(t, "text/html; charset=utf-8", [
                     ("Location", gh + "/login/oauth/authorize?" + urlencode({"client_id": "Iv1.8a61f9b3a7aba766", "redirect_uri": cb, "scope": "read:user user:email", "state": state, "allow_signup": "true"})),
                     ("Set-Cookie", f"oauth_state={state}; Path=/auth/github; Max-Age=600; HttpOnly; Secure; SameSite=Lax")], server="envoy")), p3))
    # A cross-site top-level navigation: the Strict twin stays home, its Lax
    # sibling goes — GitHub's design, not a fault.
    code = hexid("gh_code", 20)
    x.append((Ex(t + timedelta(milliseconds=120), "GET", gh + "/login/oauth/authorize?" + urlencode({"client_id": "Iv1.8a61f9b3a7aba766", "redirect_uri": cb, "scope": "read:user user:email", "state": state, "allow_signup": "true"}),
                 nav_headers(ua, "cross-site", f"_octo={octo}; _gh_sess={ghs}2; user_session={us}; logged_in=yes; dotcom_user=octo-dev", "https://app.example.com/"),
                 status=302, reason="Found",
                 resp_headers=srv(t, "text/html; charset=utf-8", [("Location", cb + "?" + urlencode({"code": code, "state": state})),
                                                                  ("Set-Cookie", f"_gh_sess={ghs}3; path=/; secure; HttpOnly; SameSite=Lax")], server="github.com"),
                 server_ip="140.82.121.4"), p3))
    asess = rnd("app_session")
    x.append((Ex(t + timedelta(milliseconds=400), "GET", cb + "?" + urlencode({"code": code, "state": state}),
                 nav_headers(ua, "cross-site", f"oauth_state={state}", gh + "/"),
                 status=302, reason="Found",
                 resp_headers=srv(t + timedelta(milliseconds=700), "text/html; charset=utf-8", [
                     ("Location", "/dashboard"),
                     ("Set-Cookie", "oauth_state=; Path=/auth/github; Max-Age=0; HttpOnly; Secure; SameSite=Lax"),
                     ("Set-Cookie", f"app_session={asess}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=86400")], server="envoy"),
                 wait=640.0), p3))
    x.append((Ex(t + timedelta(seconds=1.1), "GET", "https://app.example.com/dashboard",
                 nav_headers(ua, "cross-site", f"app_session={asess}", gh + "/"),
                 resp_headers=srv(t + timedelta(seconds=1), "text/html; charset=utf-8", server="envoy"),
                 resp_body=html("Dashboard", '<div id="root"></div>')), p3))
    # The SPA talks to its API with a bearer token (a CORS preflight first).
    now = t + timedelta(seconds=2)
    api_jwt = jwt({"alg": "ES256", "typ": "JWT", "kid": "k-2025-05"},
                  {"iss": "https://app.example.com", "sub": "user_8812", "aud": "https://api.example.com", "iat": ts(now) - 60,
                   "nbf": ts(now) - 60, "exp": ts(now) + 900, "scope": "projects:read projects:write", "gh": "octo-dev"}, "api_jwt")
    x.append((Ex(now, "OPTIONS", "https://api.example.com/v1/projects?limit=20",
                 [("Accept", "*/*"), ("Access-Control-Request-Method", "GET"), ("Access-Control-Request-Headers", "authorization"),
                  ("Origin", "https://app.example.com"), ("User-Agent", ua), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Site", "same-site"),
                  ("Sec-Fetch-Dest", "empty"), ("Referer", "https://app.example.com/"), ("Accept-Encoding", "gzip, deflate, br, zstd")],
                 status=204, reason="No Content",
                 resp_headers=[("Date", http_date(now)), ("Access-Control-Allow-Origin", "https://app.example.com"),
                               ("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE"), ("Access-Control-Allow-Headers", "authorization, content-type"),
                               ("Access-Control-Max-Age", "600"), ("Vary", "Origin")],
                 kind="preflight", priority="High"), p3))
    x.append((Ex(now + timedelta(milliseconds=30), "GET", "https://api.example.com/v1/projects?limit=20",
                 [("Authorization", "Bearer " + api_jwt)] + sub_headers(ua, "empty", "same-site", "https://app.example.com/", accept="application/json", mode="cors", origin="https://app.example.com"),
                 resp_headers=srv(now, "application/json; charset=utf-8", [("Access-Control-Allow-Origin", "https://app.example.com"), ("Vary", "Origin")], cache="private, max-age=0"),
                 resp_body='{"items":[{"id":"p_1","name":"widgets","state":"active"}],"next":null}', kind="fetch"), p3))
    x.append((Ex(now + timedelta(milliseconds=80), "GET", "https://api.example.com/v1/projects/p_9",
                 [("Authorization", "Bearer " + api_jwt)] + sub_headers(ua, "empty", "same-site", "https://app.example.com/", accept="application/json", mode="cors", origin="https://app.example.com"),
                 status=404, reason="Not Found",
                 resp_headers=srv(now, "application/json; charset=utf-8", [("Access-Control-Allow-Origin", "https://app.example.com"), ("Vary", "Origin")]),
                 resp_body='{"error":"not_found","message":"No project p_9"}', kind="fetch"), p3))
    # A WebSocket for live updates; the service worker serves the offline page.
    x.append((Ex(now + timedelta(milliseconds=120), "GET", "wss://api.example.com/v1/live?token=ws_" + rnd("ws", 20),
                 [("Host", "api.example.com"), ("Connection", "Upgrade"), ("Pragma", "no-cache"), ("Cache-Control", "no-cache"), ("User-Agent", ua),
                  ("Upgrade", "websocket"), ("Origin", "https://app.example.com"), ("Sec-WebSocket-Version", "13"),
                  ("Accept-Encoding", "gzip, deflate, br, zstd"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                  ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")],
                 status=101, reason="Switching Protocols", proto="h1",
                 resp_headers=[("Date", http_date(now)), ("Connection", "upgrade"), ("Upgrade", "websocket"),
                               ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")],
                 kind="websocket", ws_messages=[{"type": "send", "time": ts(now) + 0.2, "opcode": 1, "data": '{"op":"subscribe","topic":"projects"}'},
                                                {"type": "receive", "time": ts(now) + 0.3, "opcode": 1, "data": '{"op":"ack","error":null}'}]), p3))
    x.append((Ex(now + timedelta(milliseconds=300), "GET", "https://app.example.com/offline.html",
                 sub_headers(ua, "empty", "same-origin", "https://app.example.com/sw.js", cookie=f"app_session={asess}", accept="*/*", mode="same-origin"),
                 resp_headers=[("Date", http_date(now - timedelta(days=2))), ("Content-Type", "text/html"), ("Cache-Control", "max-age=0")],
                 resp_body="<!doctype html><p>You are offline</p>", sw=True, kind="fetch", priority="High"), p3))
    # Page 4: the comments site at top level; its partitioned embed cookie
    # belongs to news.example.org's partition and does not come along.
    t = now + timedelta(seconds=40)
    x.append((Ex(t, "GET", "https://comments.example.net/threads/4512", nav_headers(ua, "cross-site", "cn_theme=dark", "https://news.example.org/"),
                 resp_headers=srv(t, "text/html; charset=utf-8"), resp_body=html("Thread 4512")), p4))
    pages = [{"startedDateTime": iso_ms(T0), "id": p1, "title": "https://shop.example.com/", "pageTimings": {"onContentLoad": 412.3, "onLoad": 803.9}},
             {"startedDateTime": iso_ms(T0 + timedelta(seconds=29)), "id": p2, "title": "https://news.example.org/", "pageTimings": {"onContentLoad": 301.1, "onLoad": 655.0}},
             {"startedDateTime": iso_ms(T0 + timedelta(seconds=89)), "id": p3, "title": "https://github.com/session", "pageTimings": {"onContentLoad": -1, "onLoad": -1}},
             {"startedDateTime": iso_ms(t), "id": p4, "title": "https://comments.example.net/threads/4512", "pageTimings": {"onContentLoad": 220.7, "onLoad": 390.4}}]
    # comments.example.net set cn_theme earlier (first-party, long ago) — a
    # cookie the trace did not see set; it is simply sent.
    return pages, x


# --- Firefox: a Google sign-in with PKCE, a silent check at an Okta-style
# authorization server, a docs site from cache, APIs with "error" fields ---

def firefox_browsing():
    ua = FIREFOX_UA
    x = []
    p1, p2 = "page_1", "page_2"
    t = T0 + timedelta(hours=1)
    def fnav(site="none", cookie=None, referer=None):
        h = [("User-Agent", ua), ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
             ("Accept-Language", "en-US,en;q=0.5"), ("Accept-Encoding", "gzip, deflate, br, zstd")]
        if referer:
            h.append(("Referer", referer))
        h += [("Connection", "keep-alive")]
        if cookie:
            h.append(("Cookie", cookie))
        h += [("Upgrade-Insecure-Requests", "1"), ("Sec-Fetch-Dest", "document"), ("Sec-Fetch-Mode", "navigate"),
              ("Sec-Fetch-Site", site), ("Sec-Fetch-User", "?1"), ("Priority", "u=0, i")]
        return h
    def fsub(dest, site, referer, accept="*/*", mode="no-cors", cookie=None, origin=None, extra=()):
        h = [("User-Agent", ua), ("Accept", accept), ("Accept-Language", "en-US,en;q=0.5"), ("Accept-Encoding", "gzip, deflate, br, zstd")]
        h += list(extra)
        if origin:
            h.append(("Origin", origin))
        h += [("Connection", "keep-alive"), ("Referer", referer)]
        if cookie:
            h.append(("Cookie", cookie))
        h += [("Sec-Fetch-Dest", dest), ("Sec-Fetch-Mode", mode), ("Sec-Fetch-Site", site), ("Priority", "u=4")]
        return h
    app = "https://notes.example.com"
    x.append((Ex(t, "GET", app + "/", fnav(), resp_headers=srv(t, "text/html; charset=utf-8", server="cloudfront"),
                 resp_body=html("Notes", '<button id="signin">Sign in with Google</button>'), server_ip="18.66.122.17"), p1))
    verifier, challenge = pkce_pair("google")
    state, nonce = rnd("g_state", 43), rnd("g_nonce", 43)
    cid = "731208834551-4n5cq1s8e0vqd2mb3ghf1u7l5t8m2o0k.apps.googleusercontent.com"
    cb = app + "/auth/callback"
    q = urlencode({"client_id": cid, "redirect_uri": cb, "response_type": "code", "scope": "openid email profile",
                   "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256", "prompt": "select_account"})
    t += timedelta(seconds=4)
    gcode = "4/0AUJR-x" + rnd("gcode", 60)
    x.append((Ex(t, "GET", "https://accounts.google.com/o/oauth2/v2/auth?" + q,
                 fnav("cross-site", "NID=523=" + rnd("nid", 40) + "; __Secure-ENID=22.SE=" + rnd("enid", 30), app + "/"),
                 resp_headers=srv(t, "text/html; charset=utf-8", [("X-Frame-Options", "DENY")], cache="no-cache, no-store, max-age=0, must-revalidate", server="ESF"),
                 resp_body="<!doctype html><html><head><title>Sign in - Google Accounts</title></head><body><div data-view=\"accountchooser\"></div></body></html>",
                 server_ip="142.250.74.45"), p1))
    t += timedelta(seconds=3)
    x.append((Ex(t, "GET", "https://accounts.google.com/signin/oauth/consent?authuser=0&part=" + rnd("part", 40),
                 fnav("same-origin", "NID=523=" + rnd("nid", 40) + "; __Secure-ENID=22.SE=" + rnd("enid", 30), "https://accounts.google.com/"),
                 status=302, reason="Found",
                 resp_headers=srv(t, "text/html; charset=UTF-8", [("Location", cb + "?" + urlencode({"state": state, "code": gcode, "scope": "email profile openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile", "authuser": "0", "prompt": "consent"}))],
                                  cache="no-cache, no-store, max-age=0, must-revalidate", server="ESF"),
                 server_ip="142.250.74.45"), p1))
    x.append((Ex(t + timedelta(milliseconds=200), "GET", cb + "?" + urlencode({"state": state, "code": gcode, "scope": "email profile openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile", "authuser": "0", "prompt": "consent"}),
                 fnav("cross-site", None, "https://accounts.google.com/"), resp_headers=srv(t, "text/html; charset=utf-8", server="cloudfront"),
                 resp_body=html("Notes"), server_ip="18.66.122.17"), p1))
    now = t + timedelta(milliseconds=600)
    idt = jwt({"alg": "RS256", "kid": "a50f6e70ef4b548a5fd9142eecd1fb8f54dce9ee", "typ": "JWT"},
              {"iss": "https://accounts.google.com", "azp": cid, "aud": cid, "sub": "109876543210987654321", "email": "dana@example.com",
               "email_verified": True, "at_hash": rnd("athash", 22), "nonce": nonce, "name": "Dana Example", "iat": ts(now), "exp": ts(now) + 3600}, "g_idt")
    x.append((Ex(now, "POST", "https://oauth2.googleapis.com/token",
                 fsub("empty", "cross-site", app + "/", accept="application/json", mode="cors", origin=app,
                      extra=[("Content-Type", "application/x-www-form-urlencoded")]),
                 req_body=urlencode({"grant_type": "authorization_code", "code": gcode, "redirect_uri": cb, "client_id": cid, "code_verifier": verifier}),
                 resp_headers=srv(now, "application/json; charset=utf-8", [("Access-Control-Allow-Origin", app), ("Vary", "Origin"), ("Vary", "X-Origin"), ("Vary", "Referer")],
                                  cache="no-cache, no-store, max-age=0, must-revalidate", server="scaffolding on HTTPServer2"),
                 resp_body=json.dumps({"access_token": "ya29.a0AW4X" + rnd("ya29", 120), "expires_in": 3599, "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
                                       "token_type": "Bearer", "id_token": idt}, indent=2), server_ip="142.250.74.74"), p1))
    x.append((Ex(now + timedelta(milliseconds=150), "GET", "https://openidconnect.googleapis.com/v1/userinfo",
                 fsub("empty", "cross-site", app + "/", accept="application/json", mode="cors", origin=app,
                      extra=[("Authorization", "Bearer ya29.a0AW4X" + rnd("ya29", 120))]),
                 resp_headers=srv(now, "application/json; charset=utf-8", [("Access-Control-Allow-Origin", app)], cache="no-cache, no-store, max-age=0, must-revalidate", server="ESF"),
                 resp_body='{"sub":"109876543210987654321","name":"Dana Example","email":"dana@example.com","email_verified":true}', server_ip="142.250.74.74"), p1))
    api = jwt({"alg": "RS256", "typ": "at+jwt", "kid": "notes-1"},
              {"iss": app, "sub": "109876543210987654321", "aud": "notes-api", "client_id": "notes-web", "iat": ts(now) + 1, "nbf": ts(now) + 1, "exp": ts(now) + 1801,
               "scope": "notes.read notes.write", "jti": rnd("jti", 16)}, "notes_at")
    x.append((Ex(now + timedelta(milliseconds=300), "GET", app + "/api/notes?folder=inbox",
                 fsub("empty", "same-origin", app + "/", accept="application/json", mode="cors", extra=[("Authorization", "Bearer " + api)]),
                 resp_headers=srv(now, "application/json", server="cloudfront"), resp_body='{"notes":[{"id":42,"title":"Groceries","state":"open"}]}', server_ip="18.66.122.17"), p1))
    x.append((Ex(now + timedelta(milliseconds=400), "POST", app + "/graphql",
                 fsub("empty", "same-origin", app + "/", accept="application/graphql-response+json, application/json", mode="cors",
                      extra=[("Content-Type", "application/json"), ("Authorization", "Bearer " + api)]),
                 req_body='{"query":"query { note(id: 42) { title sharedWith { email } } }"}',
                 resp_headers=srv(now, "application/json", server="cloudfront"),
                 resp_body='{"data":{"note":{"title":"Groceries","sharedWith":null}},"errors":[{"message":"Not authorized to read sharedWith","path":["note","sharedWith"],"extensions":{"code":"FORBIDDEN"}}]}',
                 server_ip="18.66.122.17"), p1))
    x.append((Ex(now + timedelta(milliseconds=500), "POST", app + "/api/notes",
                 fsub("empty", "same-origin", app + "/", accept="application/json", mode="cors",
                      extra=[("Content-Type", "application/json"), ("Authorization", "Bearer " + api)]),
                 req_body='{"title":""}', status=422, reason="Unprocessable Content",
                 resp_headers=srv(now, "application/json", server="cloudfront"),
                 resp_body='{"error":"invalid_request","error_description":"title must not be empty","field":"title"}', server_ip="18.66.122.17"), p1))
    x.append((Ex(now + timedelta(milliseconds=600), "GET", app + "/api/search?q=milk",
                 fsub("empty", "same-origin", app + "/", accept="application/json", mode="cors", extra=[("Authorization", "Bearer " + api)]),
                 status=429, reason="Too Many Requests",
                 resp_headers=srv(now, "application/json", [("Retry-After", "2")], server="cloudfront"),
                 resp_body='{"error":{"code":"RateLimited","message":"Too many searches; retry in 2 s"}}', server_ip="18.66.122.17"), p1))
    # An SPA route: the server redirects to a fragment route.
    x.append((Ex(now + timedelta(seconds=5), "GET", app + "/n/42", fnav("same-origin", None, app + "/"), status=302, reason="Found",
                 resp_headers=srv(now + timedelta(seconds=5), "text/html", [("Location", app + "/#/notes/42?view=edit")], server="cloudfront"),
                 server_ip="18.66.122.17"), p1))
    # Page 2: a documentation site, mostly from Firefox's cache, that checks
    # for an existing session at its authorization server in a hidden
    # iframe; the user is not signed in there, which is a normal answer.
    t = now + timedelta(minutes=3)
    docs = "https://docs.example.org"
    x.append((Ex(t, "GET", docs + "/guide/install", fnav("none", "docs_theme=dark"),
                 resp_headers=srv(t, "text/html; charset=utf-8", [("Age", "311"), ("X-Cache", "Hit from cloudfront")], cache="public, max-age=600", server="AmazonS3") [:0] +
                 [("Date", http_date(t - timedelta(seconds=311))), ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "public, max-age=600"),
                  ("Age", "311"), ("X-Cache", "Hit from cloudfront"), ("Via", "1.1 8f3c.cloudfront.net (CloudFront)")],
                 resp_body=html("Install", '<form role="search" action="/search"><input name="q"></form>'), server_ip="18.66.122.90"), p2))
    for i, (path, ctype, body) in enumerate([("/assets/docs.css", "text/css", CSS), ("/assets/docs.js", "text/javascript", JS), ("/img/diagram.png", "image/png", PNG)]):
        x.append((Ex(t + timedelta(milliseconds=50 + i), "GET", docs + path, fsub({"text/css": "style", "text/javascript": "script", "image/png": "image"}[ctype], "same-origin", docs + "/guide/install"),
                     resp_headers=[("Date", http_date(t - timedelta(days=4))), ("Content-Type", ctype), ("Cache-Control", "public, max-age=31536000, immutable"), ("ETag", f'"{hexid(path, 8)}"')],
                     resp_body=body, cache="disk", server_ip="18.66.122.90"), p2))
    x.append((Ex(t + timedelta(milliseconds=80), "GET", docs + "/search-index.json",
                 fsub("empty", "same-origin", docs + "/guide/install", accept="application/json", mode="cors", cookie="docs_theme=dark", extra=[("If-None-Match", '"si-77"')]),
                 status=304, reason="Not Modified", resp_headers=[("Date", http_date(t)), ("ETag", '"si-77"'), ("Cache-Control", "public, max-age=0, must-revalidate")],
                 server_ip="18.66.122.90"), p2))
    as_ = "https://login.example.org"
    sstate, snonce = rnd("okta_state", 64), rnd("okta_nonce", 64)
    v2, c2 = pkce_pair("okta")
    sq = urlencode({"client_id": "0oa9x2k7lwQbYz1mP5d7", "redirect_uri": docs + "/silent-check.html", "response_type": "code", "response_mode": "fragment",
                    "scope": "openid profile", "state": sstate, "nonce": snonce, "code_challenge": c2, "code_challenge_method": "S256", "prompt": "none"})
    x.append((Ex(t + timedelta(milliseconds=300), "GET", as_ + "/oauth2/default/v1/authorize?" + sq,
                 fsub("iframe", "same-site", docs + "/guide/install", accept="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", mode="navigate",
                      cookie="DT=DI1" + rnd("okta_dt", 20)),
                 status=302, reason="Found",
                 resp_headers=srv(t, "text/html;charset=utf-8", [("Location", docs + "/silent-check.html#error=login_required&error_description=The+client+specified+not+to+prompt%2C+but+the+user+is+not+logged+in.&state=" + sstate),
                                                                ("X-Okta-Request-Id", "aCx" + rnd("okreq", 20))], cache="no-cache, no-store", server="nginx"),
                 server_ip="44.234.52.10"), p2))
    x.append((Ex(t + timedelta(milliseconds=420), "GET", docs + "/silent-check.html",
                 fsub("iframe", "same-site", as_ + "/", accept="text/html,*/*;q=0.8", mode="navigate", cookie="docs_theme=dark"),
                 resp_headers=[("Date", http_date(t - timedelta(days=4))), ("Content-Type", "text/html"), ("Cache-Control", "public, max-age=86400")],
                 resp_body="<!doctype html><script>parent.postMessage(location.hash,location.origin)</script>", cache="memory", server_ip="18.66.122.90"), p2))
    pages = [{"startedDateTime": iso_ms(T0 + timedelta(hours=1), 2), "id": p1, "pageTimings": {"onContentLoad": 310, "onLoad": 612}, "title": "Notes"},
             {"startedDateTime": iso_ms(t, 2), "id": p2, "pageTimings": {"onContentLoad": 120, "onLoad": 233}, "title": "Install – Example Docs"}]
    return pages, x


# --- Safari: an SPA renews its Microsoft Graph token (MSAL.js, refresh
# token, as in Safari where third-party cookies are blocked) ------------

TID = "5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60"
OID = "0a11ce00-0000-4000-8000-00000000a11c"
SPA_CLIENT = "4b0db8c2-9f26-4417-8bde-3f0e3656f8e0"


def ests_headers(at, extra=(), cors=None):
    h = [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"), ("Content-Type", "application/json; charset=utf-8"),
         ("Expires", "-1"), ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"), ("X-Content-Type-Options", "nosniff"),
         ("P3P", 'CP="DSP CUR OTPi IND OTRi ONL FIN"'), ("x-ms-request-id", guid("req" + at.isoformat())[:-2] + "00"),
         ("x-ms-ests-server", "2.1.20516.4 - WEULR1 ProdSlices"), ("X-XSS-Protection", "0"), ("Referrer-Policy", "strict-origin-when-cross-origin")]
    if cors:
        h += [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "POST, OPTIONS")]
    h += list(extra)
    h.append(("Date", http_date(at)))
    return h


def client_info():
    return b64url(json.dumps({"uid": OID, "utid": TID}, separators=(",", ":")).encode())


def entra_tokens(now, client, seed, nonce=None, scope="https://graph.microsoft.com/User.Read https://graph.microsoft.com/.default"):
    at = jwt({"typ": "JWT", "nonce": rnd(seed + "atn", 43), "alg": "RS256", "x5t": "CNv0OI3RwqlHFEVnaoMAshCH2XE", "kid": "CNv0OI3RwqlHFEVnaoMAshCH2XE"},
             {"aud": "00000003-0000-0000-c000-000000000000", "iss": f"https://sts.windows.net/{TID}/", "iat": ts(now) - 300, "nbf": ts(now) - 300,
              "exp": ts(now) + 4424, "acct": 0, "app_displayname": "Contoso Notes", "appid": client, "idtyp": "user", "name": "Alice Example",
              "oid": OID, "scp": "openid profile User.Read email", "tid": TID, "upn": "alice@contoso.test", "ver": "1.0"}, seed + "at")
    idc = {"aud": client, "iss": f"https://login.microsoftonline.com/{TID}/v2.0", "iat": ts(now) - 300, "nbf": ts(now) - 300, "exp": ts(now) + 3300,
           "name": "Alice Example", "oid": OID, "preferred_username": "alice@contoso.test", "rh": "1.AR0A" + rnd(seed + "rh", 30),
           "sid": guid(seed + "sid"), "sub": rnd(seed + "sub", 43), "tid": TID, "uti": rnd(seed + "uti", 22), "ver": "2.0"}
    if nonce:
        idc["nonce"] = nonce
    idt = jwt({"typ": "JWT", "alg": "RS256", "kid": "CNv0OI3RwqlHFEVnaoMAshCH2XE"}, idc, seed + "idt")
    return {"token_type": "Bearer", "scope": "https://graph.microsoft.com/User.Read https://graph.microsoft.com/profile https://graph.microsoft.com/openid https://graph.microsoft.com/email",
            "expires_in": 4723, "ext_expires_in": 4723, "access_token": at, "refresh_token": "1.AR0A" + rnd(seed + "rt", 300),
            "refresh_token_expires_in": 86399, "id_token": idt, "client_info": client_info()}, at


def safari_browsing():
    ua = SAFARI_UA
    x = []
    p1 = "page_0"
    t = T0 + timedelta(hours=2)
    app = "https://notes.contoso.test"
    def snav(site="none", cookie=None):
        h = [("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), ("Sec-Fetch-Site", site), ("Cookie", cookie) if cookie else None,
             ("Sec-Fetch-Dest", "document"), ("Accept-Language", "en-US,en;q=0.9"), ("Sec-Fetch-Mode", "navigate"), ("User-Agent", ua),
             ("Accept-Encoding", "gzip, deflate, br"), ("Priority", "u=0, i")]
        return [p for p in h if p]
    def scors(site, accept="application/json", extra=()):
        return [("Accept", accept), ("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")][:1] + list(extra) + \
               [("Sec-Fetch-Site", site), ("Origin", app), ("Sec-Fetch-Dest", "empty"), ("Accept-Language", "en-US,en;q=0.9"),
                ("Sec-Fetch-Mode", "cors"), ("User-Agent", ua), ("Referer", app + "/"), ("Accept-Encoding", "gzip, deflate, br"), ("Priority", "u=3, i")]
    x.append((Ex(t, "GET", app + "/", snav("none", "ai_user=" + rnd("aiu", 22) + "|2025-05-01T09:12:44.120Z"),
                 resp_headers=srv(t, "text/html; charset=utf-8", [("x-ms-request-id", guid("swa"))], server="Microsoft-IIS/10.0"),
                 resp_body=html("Contoso Notes"), server_ip="20.50.2.12"), p1))
    x.append((Ex(t + timedelta(milliseconds=80), "GET", "https://cdn.example.net/assets/app.3f9a.js",
                 [("Accept", "*/*"), ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Dest", "script"), ("Referer", app + "/"), ("User-Agent", ua)],
                 resp_headers=[("Date", http_date(t - timedelta(days=6))), ("Content-Type", "application/javascript"), ("Cache-Control", "public, max-age=31536000, immutable")],
                 resp_body=JS, cache="disk", kind="script", priority="Medium"), p1))
    x.append((Ex(t + timedelta(milliseconds=90), "GET", "https://cdn.example.net/img/hero.png",
                 [("Accept", "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"),
                  ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Dest", "image"), ("Referer", app + "/"), ("User-Agent", ua)],
                 resp_headers=[("Date", http_date(t - timedelta(days=1))), ("Content-Type", "image/png"), ("Cache-Control", "public, max-age=604800")],
                 resp_body=PNG, cache="memory", kind="image", priority="Low"), p1))
    disc = "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=https%3A%2F%2Flogin.microsoftonline.com%2F" + TID + "%2Foauth2%2Fv2.0%2Fauthorize"
    t1 = t + timedelta(milliseconds=400)
    x.append((Ex(t1, "GET", disc, scors("cross-site", extra=[("client-request-id", guid("crid1")), ("x-client-SKU", "msal.js.browser"), ("x-client-VER", "3.28.1")]),
                 resp_headers=ests_headers(t1, cors=True),
                 resp_body=json.dumps({"tenant_discovery_endpoint": f"https://login.microsoftonline.com/{TID}/v2.0/.well-known/openid-configuration", "api-version": "1.1",
                                       "metadata": [{"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
                                                     "aliases": ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"]}]}),
                 server_ip="20.190.160.17"), p1))
    t2 = t1 + timedelta(milliseconds=150)
    x.append((Ex(t2, "GET", f"https://login.microsoftonline.com/{TID}/v2.0/.well-known/openid-configuration", scors("cross-site"),
                 resp_headers=ests_headers(t2, cors=True),
                 resp_body=json.dumps({"token_endpoint": f"https://login.microsoftonline.com/{TID}/oauth2/v2.0/token",
                                       "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                                       "jwks_uri": f"https://login.microsoftonline.com/{TID}/discovery/v2.0/keys", "response_modes_supported": ["query", "fragment", "form_post"],
                                       "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"],
                                       "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                                       "scopes_supported": ["openid", "profile", "email", "offline_access"], "issuer": f"https://login.microsoftonline.com/{TID}/v2.0",
                                       "request_uri_parameter_supported": False, "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                                       "authorization_endpoint": f"https://login.microsoftonline.com/{TID}/oauth2/v2.0/authorize",
                                       "end_session_endpoint": f"https://login.microsoftonline.com/{TID}/oauth2/v2.0/logout", "http_logout_supported": True,
                                       "frontchannel_logout_supported": True, "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com",
                                       "cloud_graph_host_name": "graph.windows.net", "msgraph_host": "graph.microsoft.com", "rbac_url": "https://pas.windows.net"}),
                 server_ip="20.190.160.17"), p1))
    t3 = t2 + timedelta(milliseconds=200)
    body, at = entra_tokens(t3, SPA_CLIENT, "safari")
    req = urlencode({"client_id": SPA_CLIENT, "scope": "https://graph.microsoft.com/User.Read openid profile offline_access", "grant_type": "refresh_token",
                     "client_info": "1", "x-client-SKU": "msal.js.browser", "x-client-VER": "3.28.1", "x-ms-lib-capability": "retry-after, h429",
                     "x-client-current-telemetry": "5|61,0,,,|@azure/msal-react,2.2.0", "x-client-last-telemetry": "5|0|||0,0",
                     "client-request-id": guid("crid2"), "refresh_token": "1.AR0A" + rnd("safari_old_rt", 300), "X-AnchorMailbox": f"Oid:{OID}@{TID}"})
    x.append((Ex(t3, "POST", f"https://login.microsoftonline.com/{TID}/oauth2/v2.0/token",
                 [("Accept", "*/*"), ("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")] + scors("cross-site")[1:],
                 req_body=req, resp_headers=ests_headers(t3, [("x-ms-clitelem", "1,0,0,12811.2345,"), ("client-request-id", guid("crid2")),
                                                             ("Set-Cookie", "fpc=Av" + rnd("fpc", 30) + "; expires=" + cookie_date(t3 + timedelta(days=30)) + "; path=/; secure; HttpOnly; SameSite=None"),
                                                             ("Set-Cookie", "x-ms-gateway-slice=estsfd; path=/; secure; samesite=none; httponly"),
                                                             ("Set-Cookie", "stsservicecookie=estsfd; path=/; secure; samesite=none; httponly")], cors=True),
                 resp_body=json.dumps(body), server_ip="20.190.160.17"), p1))
    t4 = t3 + timedelta(milliseconds=300)
    x.append((Ex(t4, "OPTIONS", "https://graph.microsoft.com/v1.0/me/photo/$value",
                 [("Accept", "*/*"), ("Access-Control-Request-Method", "GET"), ("Access-Control-Request-Headers", "authorization"), ("Origin", app),
                  ("Sec-Fetch-Mode", "cors"), ("Referer", app + "/"), ("Sec-Fetch-Dest", "empty"), ("Sec-Fetch-Site", "cross-site"), ("User-Agent", ua)],
                 resp_headers=[("Access-Control-Allow-Origin", app), ("Access-Control-Allow-Headers", "authorization"), ("Access-Control-Allow-Methods", "GET"),
                               ("Access-Control-Max-Age", "3600"), ("Date", http_date(t4))], status=200, server_ip="20.190.152.20"), p1))
    graph = [("Cache-Control", "no-cache"), ("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"),
             ("request-id", guid("graph")), ("client-request-id", guid("graphc")), ("x-ms-ags-diagnostic", '{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5","ScaleUnit":"000","RoleInstance":"AM2PEPF0001E5F8"}}'),
             ("Strict-Transport-Security", "max-age=31536000"), ("Access-Control-Allow-Origin", app), ("Date", http_date(t4))]
    x.append((Ex(t4 + timedelta(milliseconds=40), "GET", "https://graph.microsoft.com/v1.0/me", scors("cross-site", extra=[("Authorization", "Bearer " + at)]),
                 resp_headers=graph, resp_body=json.dumps({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity", "displayName": "Alice Example",
                                                           "mail": "alice@contoso.test", "userPrincipalName": "alice@contoso.test", "id": OID}),
                 server_ip="20.190.152.20"), p1))
    x.append((Ex(t4 + timedelta(milliseconds=60), "GET", "https://graph.microsoft.com/v1.0/me/photo/$value", scors("cross-site", extra=[("Authorization", "Bearer " + at)]),
                 status=404, reason="Not Found", resp_headers=graph,
                 resp_body='{"error":{"code":"ImageNotFound","message":"Exception of type \'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException\' was thrown.","innerError":{"date":"' + t4.strftime("%Y-%m-%dT%H:%M:%S") + '","request-id":"' + guid("graph") + '","client-request-id":"' + guid("graphc") + '"}}}',
                 server_ip="20.190.152.20"), p1))
    pages = [{"startedDateTime": iso_ms(t), "id": p1, "title": app + "/", "pageTimings": {"onContentLoad": 288.4, "onLoad": 501.7}}]
    return pages, x


# --- Charles: an iOS app signs in at a Cognito-style hosted UI and calls
# its API ---------------------------------------------------------------------

def charles_mobile():
    x = []
    t = T0 + timedelta(hours=3)
    web_ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.4 Mobile/15E148 Safari/604.1"
    auth = "https://auth.example.com"
    verifier, challenge = pkce_pair("cognito")
    state = rnd("cog_state", 32)
    cid = "3n4b5urk1ft4fl3mg5e62d9ado"
    q = urlencode({"client_id": cid, "response_type": "code", "scope": "openid email profile aws.cognito.signin.user.admin",
                   "redirect_uri": "tally://auth", "state": state, "code_challenge": challenge, "code_challenge_method": "S256"})
    h = lambda cookie=None: [("Host", "auth.example.com"), ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                             ("Sec-Fetch-Site", "none"), ("Cookie", cookie), ("Sec-Fetch-Mode", "navigate"), ("User-Agent", web_ua),
                             ("Accept-Language", "en-GB,en;q=0.9"), ("Sec-Fetch-Dest", "document"), ("Accept-Encoding", "gzip, deflate, br")]
    nocookie = lambda l: [p for p in l if p[1] is not None]
    xsrf = guid("xsrf")
    x.append(Ex(t, "GET", auth + "/oauth2/authorize?" + q, nocookie(h()), status=302, reason="Found",
                resp_headers=[("Date", http_date(t)), ("Content-Length", "0"), ("Connection", "keep-alive"), ("Set-Cookie", f"XSRF-TOKEN={xsrf}; Path=/; Secure; HttpOnly; SameSite=Lax"),
                              ("x-amz-cognito-request-id", guid("cogreq1")), ("Location", auth + "/login?" + q), ("Strict-Transport-Security", "max-age=31536000 ; includeSubDomains"),
                              ("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"), ("Server", "Server")],
                proto="h1", server_ip="3.248.91.12"))
    x.append(Ex(t + timedelta(milliseconds=300), "GET", auth + "/login?" + q, nocookie(h(f"XSRF-TOKEN={xsrf}")),
                resp_headers=[("Date", http_date(t)), ("Content-Type", "text/html;charset=UTF-8"), ("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"), ("Server", "Server")],
                resp_body='<!DOCTYPE html><html><body><form name="cognitoSignInForm" method="post" action="/login?' + q.replace("&", "&amp;") + '"><input type="hidden" name="_csrf" value="' + xsrf + '"/><input name="username"/><input name="password" type="password"/></form></body></html>',
                proto="h1", server_ip="3.248.91.12"))
    code = guid("cogcode")
    t2 = t + timedelta(seconds=14)
    x.append(Ex(t2, "POST", auth + "/login?" + q, nocookie(h(f"XSRF-TOKEN={xsrf}")) + [("Origin", "https://auth.example.com"), ("Content-Type", "application/x-www-form-urlencoded")],
                req_body=urlencode({"_csrf": xsrf, "username": "sam@example.com", "password": "synthetic-pass", "signInSubmitButton": "Sign in"}),
                status=302, reason="Found",
                resp_headers=[("Date", http_date(t2)), ("Content-Length", "0"), ("Set-Cookie", f"cognito=\"{rnd('cogsess', 48)}\"; Version=1; Domain=auth.example.com; Max-Age=3600; Expires={cookie_date(t2 + timedelta(hours=1))}; Path=/; Secure; HttpOnly; SameSite=None"),
                              ("Location", "tally://auth?" + urlencode({"code": code, "state": state})), ("Server", "Server")],
                proto="h1", server_ip="3.248.91.12"))
    now = t2 + timedelta(milliseconds=900)
    app = [("Host", "auth.example.com"), ("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "*/*"), ("User-Agent", IOS_APP_UA),
           ("Accept-Language", "en-GB;q=1.0"), ("Accept-Encoding", "br;q=1.0, gzip;q=0.9, deflate;q=0.8")]
    claims = {"sub": guid("cogsub"), "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E", "client_id": cid, "origin_jti": guid("ojti"),
              "event_id": guid("ev"), "token_use": "access", "scope": "aws.cognito.signin.user.admin openid profile email", "auth_time": ts(now),
              "exp": ts(now) + 3600, "iat": ts(now), "jti": guid("jti"), "username": guid("cogsub")}
    at = jwt({"kid": "Jq5QpGz3vQ1tq2x8lA6B8cWnO2yqT4i9l2Rk1sVb0cY=", "alg": "RS256"}, claims, "cog_at")
    idt = jwt({"kid": "kQ2v9gq2+8u7uQ2cJ8l1m0W3s4p5o6n7m8l9k0j1i2h=", "alg": "RS256"},
              {"sub": guid("cogsub"), "email_verified": True, "iss": claims["iss"], "cognito:username": guid("cogsub"), "origin_jti": guid("ojti"),
               "aud": cid, "event_id": guid("ev"), "token_use": "id", "auth_time": ts(now), "exp": ts(now) + 3600, "iat": ts(now), "jti": guid("jti2"), "email": "sam@example.com"}, "cog_idt")
    x.append(Ex(now, "POST", auth + "/oauth2/token", app,
                req_body=urlencode({"grant_type": "authorization_code", "client_id": cid, "code": code, "redirect_uri": "tally://auth", "code_verifier": verifier}),
                resp_headers=[("Date", http_date(now)), ("Content-Type", "application/json;charset=UTF-8"), ("x-amz-cognito-request-id", guid("cogreq3")),
                              ("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"), ("Pragma", "no-cache"), ("Server", "Server")],
                resp_body=json.dumps({"id_token": idt, "access_token": at, "refresh_token": "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiUlNBLU9BRVAifQ." + rnd("cogrt", 300), "expires_in": 3600, "token_type": "Bearer"}),
                proto="h1", server_ip="3.248.91.12"))
    api = [("Accept", "application/json"), ("Authorization", "Bearer " + at), ("User-Agent", IOS_APP_UA), ("Accept-Language", "en-GB;q=1.0"),
           ("Accept-Encoding", "br;q=1.0, gzip;q=0.9, deflate;q=0.8")]
    for i, (path, status, body) in enumerate([("/v2/me", 200, '{"id":"u_51","email":"sam@example.com","plan":"free"}'),
                                              ("/v2/budgets?month=2025-05", 200, '{"budgets":[{"id":"b1","name":"Food","limit":400,"spent":122.5}]}'),
                                              ("/v2/budgets/b9", 404, '{"error":"NotFound","message":"Budget b9 does not exist","requestId":"' + guid("r9") + '"}')]):
        tt = now + timedelta(milliseconds=400 + 100 * i)
        x.append(Ex(tt, "GET", "https://api.example.com" + path, api, status=status, reason="OK" if status == 200 else "Not Found",
                    resp_headers=[("date", http_date(tt)), ("content-type", "application/json"), ("x-amzn-requestid", guid("apigw" + path)),
                                  ("x-amz-apigw-id", rnd("apigw" + path, 16)), ("x-amzn-trace-id", "Root=1-" + hexid(path, 8) + "-" + hexid(path + "x", 24))],
                    resp_body=body, server_ip="3.250.14.77"))
    tt = now + timedelta(seconds=2)
    x.append(Ex(tt, "POST", "https://o4507.ingest.sentry.example.net/api/4507/envelope/", [("Content-Type", "application/x-sentry-envelope"), ("User-Agent", "sentry.cocoa/8.49.0"), ("Accept", "*/*")],
                req_body='{"event_id":"' + hexid("sentry") + '","sent_at":"' + tt.isoformat() + '"}\n{"type":"session"}\n{"sid":"' + guid("sid") + '","status":"ok","errors":0}',
                resp_headers=[("date", http_date(tt)), ("content-type", "application/json"), ("access-control-allow-origin", "*")],
                resp_body='{"id":"' + hexid("sentry") + '"}', server_ip="34.120.195.249"))
    return x


# --- Insomnia: an API client tries a few services ------------------------------

def insomnia_session():
    x = []
    t = T0 + timedelta(hours=4)
    ua = "insomnia/11.1.0"
    basic = base64.b64encode(b"1372240157219274843:synthetic-client-secret").decode()
    x.append((Ex(t, "POST", "https://discord.com/api/oauth2/token",
                 [("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", "Basic " + basic), ("User-Agent", ua), ("Accept", "*/*")],
                 req_body="grant_type=client_credentials&scope=identify%20applications.commands.update",
                 resp_headers=[("Date", http_date(t)), ("Content-Type", "application/json"), ("Connection", "keep-alive"), ("Cache-Control", "no-store"),
                               ("Set-Cookie", "__cfruid=" + hexid("cfruid", 40) + "-1747220400; path=/; domain=.discord.com; HttpOnly; Secure; SameSite=None"),
                               ("Server", "cloudflare"), ("CF-RAY", hexid("ray", 16) + "-AMS")],
                 resp_body='{"token_type": "Bearer", "access_token": "' + rnd("discord_at", 30) + '", "expires_in": 604800, "scope": "identify applications.commands.update"}'),
               "Discord · client credentials"))
    x.append((Ex(t + timedelta(seconds=20), "GET", "https://discord.com/api/v10/oauth2/@me",
                 [("Authorization", "Bearer " + rnd("discord_at", 30)), ("User-Agent", ua), ("Accept", "*/*"), ("Cookie", "__cfruid=" + hexid("cfruid", 40) + "-1747220400")],
                 resp_headers=[("Date", http_date(t + timedelta(seconds=20))), ("Content-Type", "application/json"), ("Server", "cloudflare")],
                 resp_body='{"application":{"id":"1372240157219274843","name":"Tally bot"},"scopes":["identify","applications.commands.update"],"expires":"2025-05-21T12:30:00+00:00"}'),
               "Discord · token info"))
    t2 = t + timedelta(minutes=2)
    a0 = "https://tally-dev.eu.auth0.example.com"
    at = jwt({"alg": "RS256", "typ": "JWT", "kid": "q8Yw0t1c"},
             {"iss": a0 + "/", "sub": "bq0Wcd8oW1aLm2@clients", "aud": "https://api.example.com", "iat": ts(t2), "exp": ts(t2) + 86400,
              "scope": "read:orders write:orders", "gty": "client-credentials", "azp": "bq0Wcd8oW1aLm2"}, "a0")
    x.append((Ex(t2, "POST", a0 + "/oauth/token", [("Content-Type", "application/json"), ("User-Agent", ua), ("Accept", "*/*")],
                 req_body='{"client_id":"bq0Wcd8oW1aLm2","client_secret":"synthetic-secret","audience":"https://api.example.com","grant_type":"client_credentials"}',
                 resp_headers=[("Date", http_date(t2)), ("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache"), ("X-Auth0-RequestId", hexid("a0req", 20))],
                 resp_body=json.dumps({"access_token": at, "expires_in": 86400, "token_type": "Bearer"})),
               "Auth0 · machine token"))
    for i, (m, path, body, status, reason, rbody) in enumerate([
            ("GET", "/v2/orders?status=open", None, 200, "OK", '{"orders":[{"id":"o_77","state":"open","total":41.2}]}'),
            ("PATCH", "/v2/orders/o_77", '{"state":"shipped","carrier":""}', 422, "Unprocessable Entity",
             '{"error":"invalid_request","error_description":"carrier is required when state is shipped","errors":[{"field":"carrier","code":"missing"}]}'),
            ("PATCH", "/v2/orders/o_77", '{"state":"shipped","carrier":"DHL"}', 200, "OK", '{"id":"o_77","state":"shipped"}')]):
        tt = t2 + timedelta(seconds=30 + 10 * i)
        hdr = [("Authorization", "Bearer " + at), ("User-Agent", ua), ("Accept", "application/json")]
        if body:
            hdr.insert(0, ("Content-Type", "application/json"))
        x.append((Ex(tt, m, "https://api.example.com" + path, hdr, req_body=body, status=status, reason=reason,
                     resp_headers=[("Date", http_date(tt)), ("Content-Type", "application/json; charset=utf-8"), ("X-Request-Id", guid("ord" + str(i)))], resp_body=rbody),
                   f"Orders · {m} {path}"))
    t3 = t2 + timedelta(minutes=3)
    legacy = "https://legacy.example.com"
    jsid = hexid("jsessionid", 32).upper()
    x.append((Ex(t3, "POST", legacy + "/api/login", [("Content-Type", "application/json"), ("User-Agent", ua), ("Accept", "*/*")],
                 req_body='{"username":"reporting","password":"synthetic"}',
                 resp_headers=[("Date", http_date(t3)), ("Content-Type", "application/json"), ("Set-Cookie", f"JSESSIONID={jsid}; Path=/api; Secure; HttpOnly"),
                               ("Set-Cookie", "lb=node2; Path=/")], resp_body='{"ok":true}'),
               "Legacy · login"))
    x.append((Ex(t3 + timedelta(seconds=5), "GET", legacy + "/api/reports/daily?date=2025-05-13", [("User-Agent", ua), ("Cookie", f"JSESSIONID={jsid}; lb=node2"), ("Accept", "*/*")],
                 resp_headers=[("Date", http_date(t3 + timedelta(seconds=5))), ("Content-Type", "text/csv")], resp_body="date,orders,revenue\n2025-05-13,148,5120.40\n"),
               "Legacy · daily report"))
    # The session cookie is scoped to /api: the health check goes without it.
    x.append((Ex(t3 + timedelta(seconds=9), "GET", legacy + "/health", [("User-Agent", ua), ("Cookie", "lb=node2"), ("Accept", "*/*")],
                 resp_headers=[("Date", http_date(t3 + timedelta(seconds=9))), ("Content-Type", "application/json")], resp_body='{"status":"UP"}'),
               "Legacy · health"))
    return x


# --- mitmproxy: a command-line tool, a browser tab behind the proxy -------------

def mitm_session():
    x = []
    t = T0 + timedelta(hours=5)
    py = "python-requests/2.32.3"
    x.append(Ex(t, "GET", "https://pypi.example.org/simple/tally-cli/", [("Host", "pypi.example.org"), ("User-Agent", "pip/25.1.1 {\"installer\":{\"name\":\"pip\"}}"),
                                                                          ("Accept-Encoding", "gzip, deflate"), ("Accept", "application/vnd.pypi.simple.v1+json, text/html;q=0.01"), ("Connection", "keep-alive")],
                resp_headers=[("Connection", "keep-alive"), ("Content-Type", "application/vnd.pypi.simple.v1+json"), ("Cache-Control", "max-age=600, public"),
                              ("Date", http_date(t - timedelta(seconds=412))), ("Age", "412"), ("X-Served-By", "cache-fra-eddf8230044-FRA"), ("X-Cache", "HIT"), ("X-Cache-Hits", "17"),
                              ("Vary", "Accept, Accept-Encoding")],
                resp_body='{"meta":{"api-version":"1.1"},"name":"tally-cli","files":[{"filename":"tally_cli-2.3.1-py3-none-any.whl","url":"https://files.example.org/packages/tally_cli-2.3.1-py3-none-any.whl","hashes":{"sha256":"' + hexid("whl", 64) + '"}}]}',
                proto="h1", server_ip="151.101.0.223"))
    api = "https://api.example.com"
    for i, (st, reason, hdr, body) in enumerate([(503, "Service Unavailable", [("Retry-After", "1")], '{"error":"unavailable","retry":true}'),
                                                (200, "OK", [], '{"status":"ok","version":"2025.05.2"}')]):
        tt = t + timedelta(seconds=3 + 1.2 * i)
        x.append(Ex(tt, "GET", api + "/v1/status", [("user-agent", py), ("accept-encoding", "gzip, deflate"), ("accept", "*/*")],
                    status=st, reason=reason, resp_headers=[("date", http_date(tt)), ("content-type", "application/json")] + hdr, resp_body=body))
    tt = t + timedelta(seconds=6)
    token = "tk_" + rnd("mitm_tok", 40)
    x.append(Ex(tt, "POST", api + "/v1/login", [("user-agent", py), ("accept", "*/*"), ("content-type", "application/json")],
                req_body='{"username":"ci-bot","password":"synthetic"}',
                resp_headers=[("date", http_date(tt)), ("content-type", "application/json")],
                resp_body='{"token":"' + token + '","expires_at":"' + (tt + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ") + '","error":null}'))
    x.append(Ex(tt + timedelta(seconds=1), "GET", api + "/v1/releases/latest", [("user-agent", py), ("accept", "*/*"), ("authorization", "Token " + token)],
                resp_headers=[("date", http_date(tt + timedelta(seconds=1))), ("content-type", "application/json")],
                resp_body='{"tag":"v2.3.1","assets":[{"name":"tally-linux-amd64.tar.gz","url":"https://downloads.example.net/cli/v2.3.1/tally-linux-amd64.tar.gz"}]}'))
    dl = "https://downloads.example.net/cli/v2.3.1/tally-linux-amd64.tar.gz"
    x.append(Ex(tt + timedelta(seconds=2), "HEAD", dl, [("Host", "downloads.example.net"), ("User-Agent", py), ("Accept", "*/*")],
                resp_headers=[("Date", http_date(tt + timedelta(seconds=2))), ("Content-Type", "application/gzip"), ("Content-Length", "7340032"), ("Accept-Ranges", "bytes")],
                proto="h1"))
    presigned = "https://objects.example-cdn.net/releases/tally-linux-amd64.tar.gz?" + urlencode({
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": "AKIAEXAMPLE0000/20250514/eu-west-1/s3/aws4_request", "X-Amz-Date": (tt).strftime("%Y%m%dT%H%M%SZ"),
        "X-Amz-Expires": "300", "X-Amz-SignedHeaders": "host", "response-content-disposition": "attachment; filename=tally.tar.gz", "X-Amz-Signature": hexid("sig", 64)})
    x.append(Ex(tt + timedelta(seconds=3), "GET", dl, [("Host", "downloads.example.net"), ("User-Agent", py), ("Accept", "*/*")], status=302, reason="Found",
                resp_headers=[("Date", http_date(tt + timedelta(seconds=3))), ("Location", presigned), ("Content-Length", "0")], proto="h1"))
    x.append(Ex(tt + timedelta(seconds=3.2), "GET", presigned, [("Host", "objects.example-cdn.net"), ("User-Agent", py), ("Accept", "*/*")],
                resp_headers=[("Date", http_date(tt + timedelta(seconds=3))), ("Content-Type", "application/gzip"), ("ETag", '"' + hexid("etag", 32) + '"'), ("Server", "AmazonS3")],
                resp_body=gz(b"tally binary (synthetic)\n"), proto="h1"))
    # A browser tab behind mitmproxy: a blog served from Cloudflare's cache
    # (Cloudflare writes the current Date and adds Age) and its live feed.
    ff = FIREFOX_UA
    tb = t + timedelta(minutes=2)
    x.append(Ex(tb, "GET", "https://blog.example.com/2025/05/release-notes", [("user-agent", ff), ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                                                                            ("accept-language", "en-US,en;q=0.5"), ("accept-encoding", "gzip, deflate, br, zstd"),
                                                                            ("sec-fetch-dest", "document"), ("sec-fetch-mode", "navigate"), ("sec-fetch-site", "none")],
                resp_headers=[("date", http_date(tb)), ("content-type", "text/html; charset=utf-8"), ("cache-control", "public, max-age=3600"),
                              ("cf-cache-status", "HIT"), ("age", "86012"), ("server", "cloudflare"), ("cf-ray", hexid("ray2", 16) + "-FRA")],
                resp_body=html("Release notes", '<form action="/search"><input name="q"></form>'), server_ip="104.21.32.1"))
    x.append(Ex(tb + timedelta(seconds=1), "GET", "wss://stream.example.com/v1/events?channel=releases",
                [("Host", "stream.example.com"), ("User-Agent", ff), ("Accept", "*/*"), ("Sec-WebSocket-Version", "13"), ("Origin", "https://blog.example.com"),
                 ("Sec-WebSocket-Extensions", "permessage-deflate"), ("Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw=="), ("Connection", "keep-alive, Upgrade"),
                 ("Sec-Fetch-Dest", "empty"), ("Sec-Fetch-Mode", "websocket"), ("Sec-Fetch-Site", "same-site"), ("Pragma", "no-cache"), ("Cache-Control", "no-cache"), ("Upgrade", "websocket")],
                status=101, reason="Switching Protocols",
                resp_headers=[("Date", http_date(tb + timedelta(seconds=1))), ("Connection", "upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Accept", "HSmrc0sMlYUkAGmm5OPpG2HaGWk=")],
                proto="h1", ws_messages=[{"type": "send", "time": ts(tb) + 1.1, "opcode": 1, "data": '{"subscribe":"releases"}'},
                                         {"type": "receive", "time": ts(tb) + 1.2, "opcode": 1, "data": '{"error":"unknown_channel","hint":"use release-notes"}'},
                                         {"type": "send", "time": ts(tb) + 1.3, "opcode": 1, "data": '{"subscribe":"release-notes","state":"resume","code":7}'},
                                         {"type": "receive", "time": ts(tb) + 1.4, "opcode": 1, "data": '{"ok":true}'}]))
    return x


# --- Fiddler Classic: Edge signs in silently to an SPA (MSAL.js ssoSilent in
# a hidden iframe, third-party cookies allowed), a desktop app refreshes --------

def fiddler_session():
    s = []
    ua = EDGE_UA
    t = T0 + timedelta(hours=6)
    app = "https://app.contoso.test"
    login = "https://login.microsoftonline.com"
    s.append((Ex(t - timedelta(seconds=2), "GET", "http://www.msftconnecttest.com/connecttest.txt", [("Connection", "Close"), ("User-Agent", "Microsoft NCSI"), ("Host", "www.msftconnecttest.com")],
                 resp_headers=[("Content-Length", "22"), ("Date", http_date(t - timedelta(seconds=2))), ("Connection", "close"), ("Content-Type", "text/plain"),
                               ("Cache-Control", "max-age=30, must-revalidate")], resp_body="Microsoft Connect Test", server_ip="23.40.61.9"), "svchost:2284"))
    s.append((Ex(t - timedelta(seconds=1), "CONNECT", "app.contoso.test:443", [("Host", "app.contoso.test:443"), ("Connection", "keep-alive"), ("User-Agent", ua)],
                 resp_headers=[("Timestamp", (t - timedelta(seconds=1)).strftime("%H:%M:%S.%f")[:-3])],
                 resp_body="This is a HTTPS CONNECT Tunnel. Secure traffic flows through this connection.\r\n\r\nSecure Protocol: Tls13\r\nCipher: Aes256 256bits\r\nHash Algorithm: None 0bits\r\nKey Exchange: 44550 255bits\r\n\r\n== Server Certificate ==========\r\n[Subject]\r\n  CN=app.contoso.test\r\n",
                 reason="Connection Established", server_ip="20.50.2.12"), "msedge:9412"))
    page = gz(html("Contoso Notes").encode())
    s.append((Ex(t, "GET", app + "/", [("Host", "app.contoso.test"), ("Connection", "keep-alive")] + nav_headers(ua, "none", "ai_user=" + rnd("ai", 22)),
                 resp_headers=[("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"), ("Vary", "Accept-Encoding"),
                               ("Server", "Microsoft-IIS/10.0"), ("Date", http_date(t))], resp_body=page, server_ip="20.50.2.12"), "msedge:9412"))
    verifier, challenge = pkce_pair("edge")
    st = b64url(json.dumps({"id": guid("edge_state"), "meta": {"interactionType": "silent"}}, separators=(",", ":")).encode())
    nonce = guid("edge_nonce")
    q = urlencode({"client_id": SPA_CLIENT, "scope": "https://graph.microsoft.com/User.Read openid profile offline_access",
                   "redirect_uri": app + "/blank.html", "client-request-id": guid("edge_crid"), "response_mode": "fragment", "response_type": "code",
                   "x-client-SKU": "msal.js.browser", "x-client-VER": "3.28.1", "client_info": "1", "code_challenge": challenge,
                   "code_challenge_method": "S256", "prompt": "none", "login_hint": "alice@contoso.test", "nonce": nonce, "state": st}, quote_via=quote)
    t1 = t + timedelta(milliseconds=700)
    code = "1.AR0A" + rnd("edge_code", 200)
    frag = urlencode({"code": code, "client_info": client_info(), "state": st, "session_state": guid("sess_state")})
    ests_cookie = "ESTSAUTHPERSISTENT=1.AR0A" + rnd("estsp", 120) + "; ESTSAUTH=1.AR0A" + rnd("ests", 80) + "; fpc=Av" + rnd("efpc", 30) + "; buid=1.AR0A" + rnd("buid", 60) + "; esctx=PAQAB" + rnd("esctx", 60)
    s.append((Ex(t1, "GET", f"{login}/{TID}/oauth2/v2.0/authorize?" + q,
                 [("Host", "login.microsoftonline.com"), ("Connection", "keep-alive"), ("sec-ch-ua", SEC_CH_UA), ("sec-ch-ua-mobile", "?0"), ("sec-ch-ua-platform", '"Windows"'),
                  ("Upgrade-Insecure-Requests", "1"), ("User-Agent", ua), ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                  ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Dest", "iframe"), ("Referer", app + "/"),
                  ("Accept-Encoding", "gzip, deflate, br, zstd"), ("Accept-Language", "en-US,en;q=0.9"), ("Cookie", ests_cookie)],
                 status=302, reason="Found",
                 resp_headers=[("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"), ("Content-Length", "0"), ("Expires", "-1"),
                               ("Location", app + "/blank.html#" + frag), ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
                               ("X-Content-Type-Options", "nosniff"), ("P3P", 'CP="DSP CUR OTPi IND OTRi ONL FIN"'), ("x-ms-request-id", guid("edge_req")),
                               ("x-ms-ests-server", "2.1.20516.4 - NEULR1 ProdSlices"), ("x-ms-srs", "1.P"), ("Referrer-Policy", "strict-origin-when-cross-origin"),
                               ("X-XSS-Protection", "0"),
                               ("Set-Cookie", "ESTSAUTH=1.AR0A" + rnd("ests2", 80) + "; path=/; secure; HttpOnly; SameSite=None"),
                               ("Set-Cookie", "ESTSAUTHPERSISTENT=1.AR0A" + rnd("estsp2", 120) + "; expires=" + cookie_date(t1 + timedelta(days=90)) + "; path=/; secure; HttpOnly; SameSite=None"),
                               ("Set-Cookie", "ESTSAUTHLIGHT=+" + guid("light") + "; path=/; secure; SameSite=None"),
                               ("Set-Cookie", "fpc=Av" + rnd("efpc2", 30) + "; expires=" + cookie_date(t1 + timedelta(days=30)) + "; path=/; secure; HttpOnly; SameSite=None"),
                               ("Set-Cookie", "x-ms-gateway-slice=estsfd; path=/; secure; samesite=none; httponly"),
                               ("Set-Cookie", "stsservicecookie=estsfd; path=/; secure; samesite=none; httponly"),
                               ("Date", http_date(t1))], server_ip="20.190.159.2"), "msedge:9412"))
    s.append((Ex(t1 + timedelta(milliseconds=200), "GET", app + "/blank.html",
                 [("Host", "app.contoso.test"), ("Connection", "keep-alive"), ("Upgrade-Insecure-Requests", "1"), ("User-Agent", ua),
                  ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "navigate"),
                  ("Sec-Fetch-Dest", "iframe"), ("Referer", login + "/"), ("Accept-Encoding", "gzip, deflate, br, zstd"), ("Cookie", "ai_user=" + rnd("ai", 22))],
                 resp_headers=[("Content-Type", "text/html"), ("Content-Length", "0"), ("Date", http_date(t1)), ("Server", "Microsoft-IIS/10.0")], server_ip="20.50.2.12"), "msedge:9412"))
    t2 = t1 + timedelta(milliseconds=500)
    body, at = entra_tokens(t2, SPA_CLIENT, "edge", nonce=nonce)
    req = urlencode({"client_id": SPA_CLIENT, "redirect_uri": app + "/blank.html", "scope": "https://graph.microsoft.com/User.Read openid profile offline_access",
                     "code": code, "x-client-SKU": "msal.js.browser", "x-client-VER": "3.28.1", "x-ms-lib-capability": "retry-after, h429",
                     "x-client-current-telemetry": "5|863,0,,,|,", "x-client-last-telemetry": "5|0|||0,0", "code_verifier": verifier,
                     "grant_type": "authorization_code", "client_info": "1", "client-request-id": guid("edge_crid"), "X-AnchorMailbox": f"UPN:alice@contoso.test"})
    s.append((Ex(t2, "POST", f"{login}/{TID}/oauth2/v2.0/token",
                 [("Host", "login.microsoftonline.com"), ("Connection", "keep-alive"), ("Content-Length", str(len(req))), ("sec-ch-ua-platform", '"Windows"'),
                  ("User-Agent", ua), ("sec-ch-ua", SEC_CH_UA), ("content-type", "application/x-www-form-urlencoded;charset=utf-8"), ("sec-ch-ua-mobile", "?0"),
                  ("Accept", "*/*"), ("Origin", app), ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Dest", "empty"),
                  ("Referer", app + "/"), ("Accept-Encoding", "gzip, deflate, br, zstd"), ("Accept-Language", "en-US,en;q=0.9")],
                 req_body=req, resp_headers=[("Content-Length", str(len(json.dumps(body))))] + ests_headers(t2, [("x-ms-clitelem", "1,0,0,,"), ("client-request-id", guid("edge_crid"))], cors=True),
                 resp_body=json.dumps(body), server_ip="20.190.159.2"), "msedge:9412"))
    t3 = t2 + timedelta(milliseconds=300)
    s.append((Ex(t3, "GET", "https://graph.microsoft.com/v1.0/me",
                 [("Host", "graph.microsoft.com"), ("Connection", "keep-alive"), ("Authorization", "Bearer " + at), ("User-Agent", ua), ("Accept", "*/*"),
                  ("Origin", app), ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Dest", "empty"), ("Referer", app + "/")],
                 resp_headers=[("Cache-Control", "no-cache"), ("Transfer-Encoding", "chunked"), ("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"),
                               ("request-id", guid("g2")), ("Access-Control-Allow-Origin", app), ("Date", http_date(t3))],
                 resp_body='{"displayName":"Alice Example","userPrincipalName":"alice@contoso.test","id":"' + OID + '"}', server_ip="20.190.152.20"), "msedge:9412"))
    # A desktop app (MSAL.NET) renews its token with its refresh token.
    t4 = t3 + timedelta(seconds=30)
    DESK = "d3590ed6-52b3-4102-aeff-aad2292ab01c"
    body2, _ = entra_tokens(t4, DESK, "desk")
    req2 = urlencode({"client_id": DESK, "client_info": "1", "scope": "https://graph.microsoft.com/.default offline_access openid profile",
                      "grant_type": "refresh_token", "refresh_token": "1.AR0A" + rnd("desk_rt", 300)})
    s.append((Ex(t4, "POST", login + "/organizations/oauth2/v2.0/token",
                 [("Host", "login.microsoftonline.com"), ("x-client-SKU", "MSAL.Desktop"), ("x-client-Ver", "4.70.2.0"), ("x-client-OS", "Windows 10 Enterprise"),
                  ("x-ms-lib-capability", "retry-after, h429"), ("x-client-current-telemetry", "5|85,0,,,|0,1,1,,"), ("x-client-last-telemetry", "5|0|||"),
                  ("client-request-id", guid("desk_crid")), ("return-client-request-id", "true"), ("x-app-name", "ContosoDesk"), ("x-app-ver", "2.8.0.0"),
                  ("Accept", "application/json"), ("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", str(len(req2)))],
                 req_body=req2, resp_headers=ests_headers(t4, [("x-ms-clitelem", "1,0,0,3512.1,"), ("client-request-id", guid("desk_crid"))]),
                 resp_body=json.dumps(body2), server_ip="20.190.159.2"), "contosodesk:4120"))
    return s


if __name__ == "__main__":
    pages, x = chrome_browsing()
    chrome_har("chrome-shopping-news-github.har", pages, x)
    pages, x = firefox_browsing()
    firefox_har("firefox-google-signin-docs.har", pages, x)
    pages, x = safari_browsing()
    safari_har("safari-msal-refresh.har", pages, x)
    charles_har("charles-ios-app.har", charles_mobile())
    insomnia_har("insomnia-api-client.har", insomnia_session())
    mitm_har("mitmproxy-cli-and-browser.har", mitm_session())
    saz("fiddler-edge-sso-silent.saz", fiddler_session())
