"""Main text, links and metadata from an HTML page.

Main text comes from trafilatura (boilerplate removed). When it finds nothing (broken markup,
a very short page) a plain stdlib-parser fallback keeps the visible text of the body. Links and
metadata (title, language, robots meta, license and copyright hints) come from one pass of the
stdlib HTMLParser, which never raises on bad markup.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

from pydantic import BaseModel, Field

# Meta names whose content is a license or copyright statement.
_LICENSE_METAS = {
    "copyright",
    "license",
    "rights",
    "dc.rights",
    "dcterms.rights",
    "dc.license",
    "dcterms.license",
    "dcterms.accessrights",
    "dc.rights.license",
    "og:license",
    "article:license",
    "citation_license",
}
_SKIP_TEXT_TAGS = {"script", "style", "noscript", "template", "svg", "head", "title", "iframe", "object"}
_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section",
    "article", "header", "footer", "blockquote", "pre", "dd", "dt", "hr", "main", "nav", "aside", "form",
}  # fmt: skip
_WS = re.compile(r"[ \t\f\v\u00a0]+")


class PageMeta(BaseModel):
    title: str = ""
    lang: str = ""
    base: str = ""
    links: list[str] = Field(default_factory=list)
    license_hints: dict[str, str] = Field(default_factory=dict)
    noindex: bool = False
    nofollow: bool = False


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta = PageMeta()
        self.text: list[str] = []
        self._skip = 0
        self._in_title = False
        self._title: list[str] = []
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "a" or tag == "area":
            href = a.get("href", "").strip()
            rel = a.get("rel", "").lower().split()
            if "license" in rel and href:
                self.meta.license_hints.setdefault("link:license", href)
            if href and "nofollow" not in rel:
                self.meta.links.append(href)
        elif tag == "link":
            rel = a.get("rel", "").lower().split()
            if "license" in rel and a.get("href"):
                self.meta.license_hints.setdefault("link:license", a["href"].strip())
            if "copyright" in rel and a.get("href"):
                self.meta.license_hints.setdefault("link:copyright", a["href"].strip())
        elif tag == "meta":
            name = (a.get("name") or a.get("property") or "").strip().lower()
            content = a.get("content", "").strip()
            if name in _LICENSE_METAS and content:
                self.meta.license_hints.setdefault(f"meta:{name}", content)
            elif name == "robots" or name == "studiobot":
                words = {w.strip() for w in content.lower().split(",")}
                self.meta.noindex |= bool(words & {"noindex", "none"})
                self.meta.nofollow |= bool(words & {"nofollow", "none"})
        elif tag == "base" and a.get("href") and not self.meta.base:
            self.meta.base = a["href"].strip()
        elif tag == "html" and a.get("lang"):
            self.meta.lang = a["lang"].strip()
        elif tag == "title":
            self._in_title = True
        elif tag == "body":
            self._in_body = True
        if tag in _SKIP_TEXT_TAGS:
            self._skip += 1
        if tag in _BLOCK_TAGS:
            self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP_TEXT_TAGS and self._skip:
            self._skip -= 1
        if tag in _BLOCK_TAGS:
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        elif not self._skip:
            self.text.append(data)

    def result(self) -> tuple[PageMeta, str]:
        self.meta.title = " ".join("".join(self._title).split())
        return self.meta, tidy("".join(self.text))


def tidy(text: str) -> str:
    """Collapse runs of spaces, strip lines, keep at most one blank line between paragraphs."""
    lines = [_WS.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def parse_html(html: str) -> tuple[PageMeta, str]:
    """Metadata and the plain visible text of a page; never raises on broken markup."""
    p = _Parser()
    try:
        p.feed(html)
        p.close()
    except Exception:  # the stdlib parser can still trip on pathological input; keep what it read
        pass
    return p.result()


def main_text(html: str, url: str | None = None, fallback: str | None = None) -> tuple[str, str]:
    """(text, method): trafilatura's main text, or the page's visible text as a fallback."""
    text = ""
    try:
        import lxml_html_clean  # noqa: F401  (trafilatura needs it; without it every page would fall back)
    except ImportError as exc:
        from studio.errors import StudioError

        raise StudioError(
            "text extraction needs lxml_html_clean: pip install lxml_html_clean (or reinstall Studio)"
        ) from exc
    try:
        import trafilatura

        # trafilatura logs a warning for every page it finds too short; the fallback covers those.
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
        text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True, deduplicate=False) or ""
    except Exception:  # trafilatura (lxml) rejects some broken documents; the fallback still works
        text = ""
    text = tidy(text)
    if text:
        return text, "trafilatura"
    if fallback is None:
        fallback = parse_html(html)[1]
    return fallback, "fallback"


def extract_page(html: str, url: str | None = None) -> tuple[PageMeta, str, str]:
    """(metadata, main text, extraction method) for one HTML page."""
    meta, visible = parse_html(html)
    text, method = main_text(html, url, visible)
    return meta, text, method
