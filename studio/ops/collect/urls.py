"""URL normalization and crawl scope.

Two spellings of one page must become one frontier row, so every URL is normalized before it
is compared: lowercase scheme and host (IDN hosts to punycode), no default port, no fragment,
no tracking parameters, query parameters sorted, dot segments resolved, percent-escapes in one
case. Anything that is not http(s) is refused.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Parameters that only say where a click came from; they never change the page.
TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ref_src",
}
TRACKING_PREFIXES = ("utm_",)
# Links to these are never pages; skipping them saves a request each.
BINARY_EXTENSIONS = {
    ".7z", ".avi", ".bin", ".bmp", ".bz2", ".css", ".dmg", ".doc", ".docx", ".eot", ".exe", ".flac", ".gif",
    ".gz", ".ico", ".iso", ".jar", ".jpeg", ".jpg", ".js", ".m4a", ".mkv", ".mov", ".mp3", ".mp4", ".mpeg",
    ".ogg", ".otf", ".pdf", ".png", ".ppt", ".pptx", ".rar", ".rss", ".svg", ".tar", ".tgz", ".tif", ".tiff",
    ".ttf", ".wav", ".webm", ".webp", ".woff", ".woff2", ".xls", ".xlsx", ".xz", ".zip",
}  # fmt: skip
# Characters left as they are in a path or query; everything else is percent-encoded.
_SAFE_PATH = "/:@!$&'()*+,;=-._~"
_SLASH_RE = re.compile(r"%2f", re.IGNORECASE)


class BadURL(ValueError):
    """A URL that cannot be crawled (not http/https, no host, unparsable)."""


def is_tracking_param(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def _norm_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host:
        raise BadURL("URL has no host")
    if host.startswith("["):  # IPv6 literal
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _norm_path(path: str) -> str:
    if not path:
        return "/"
    # Resolve . and .. but keep a trailing slash, which can name a different resource.
    trailing = path.endswith("/")
    path = posixpath.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if trailing and not path.endswith("/"):
        path += "/"
    return _requote(path)


def _requote(part: str) -> str:
    # unquote then quote makes %7e, %7E and ~ one spelling; %2F stays encoded (it is not a slash).
    return "%2F".join(quote(unquote(p), safe=_SAFE_PATH) for p in _SLASH_RE.split(part))


def normalize_url(url: str, base: str | None = None) -> str:
    """The one spelling of `url` (resolved against `base`); raises BadURL for what cannot be crawled."""
    url = url.strip()
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadURL(f"cannot parse URL {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BadURL(f"only http and https URLs can be crawled, got {url!r}")
    host = _norm_host(parts.hostname or "")
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query_pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    query = urlencode(sorted(query_pairs), quote_via=quote, safe=_SAFE_PATH.replace("&", "").replace("=", ""))
    return urlunsplit((scheme, netloc, _norm_path(parts.path), query, ""))


def host_key(url: str) -> str:
    """scheme://host[:port]: the unit of politeness (robots.txt, rate limit)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def looks_binary(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return posixpath.splitext(path)[1] in BINARY_EXTENSIONS


class Scope:
    """Which URLs a crawl may fetch: the seeds' hosts, plus whatever --allow patterns match.

    A pattern with `://` or `*` is a glob over the normalized URL (`https://docs.example.org/*`);
    a bare name is a host, and also allows its subdomains (`example.org`).
    """

    def __init__(self, seeds: list[str], allow: list[str] | None = None) -> None:
        self.hosts = {urlsplit(s).netloc for s in seeds}
        self.globs: list[str] = []
        self.domains: list[str] = []
        for pat in allow or []:
            pat = pat.strip()
            if not pat:
                continue
            if "://" in pat or "*" in pat or "?" in pat:
                self.globs.append(pat)
            else:
                self.domains.append(pat.lower().lstrip("."))

    def allows(self, url: str) -> bool:
        netloc = urlsplit(url).netloc
        if netloc in self.hosts:
            return True
        host = netloc.split(":")[0]
        if any(host == d or host.endswith("." + d) for d in self.domains):
            return True
        return any(fnmatch.fnmatchcase(url, g) for g in self.globs)
