"""The crawler's parts on their own: URL normalization, scope, decoding, extraction, near-dups."""

from __future__ import annotations

import pytest

from studio.ops.collect.decode import codec_for, decode_page
from studio.ops.collect.extract import extract_page, parse_html
from studio.ops.collect.neardup import NearDupIndex
from studio.ops.collect.urls import BadURL, Scope, looks_binary, normalize_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a/./b/../c?b=2&a=1#frag", "http://example.com/a/c?a=1&b=2"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("http://example.com/p?utm_source=x&utm_MEDIUM=y&fbclid=1&gclid=2&id=7", "http://example.com/p?id=7"),
        ("http://example.com/%7euser/a%2fb", "http://example.com/~user/a%2Fb"),
        ("http://example.com/a b?q=x y", "http://example.com/a%20b?q=x%20y"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://example.com/dir/", "http://example.com/dir/"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_relative_links_and_refusals() -> None:
    assert normalize_url("../x.html?gclid=3#top", base="http://a.com/b/c/d.html") == "http://a.com/b/x.html"
    for bad in ("mailto:x@example.org", "javascript:void(0)", "ftp://a.com/f", "http://"):
        with pytest.raises(BadURL):
            normalize_url(bad)


def test_scope_by_seed_host_glob_and_domain() -> None:
    scope = Scope(["http://a.com/"], ["https://docs.b.org/guide/*", "c.net"])
    assert scope.allows("http://a.com/anything")
    assert scope.allows("https://a.com/") and not scope.allows("http://a.com:8080/")  # host and port count
    assert scope.allows("https://docs.b.org/guide/intro") and not scope.allows("https://docs.b.org/blog/")
    assert scope.allows("http://www.c.net/") and scope.allows("http://c.net/") and not scope.allows("http://cc.net/")
    assert looks_binary("http://a.com/logo.PNG") and not looks_binary("http://a.com/page.html")


def test_decoding_order() -> None:
    body = "<p>Crème brûlée à la française, s'il vous plaît, chère amie — voilà où ça mène.</p>".encode("cp1252")
    assert decode_page(body, "text/html; charset=windows-1252")[1] == "http:cp1252"
    assert decode_page(body, "text/html; charset=ISO-8859-1")[1] == "http:cp1252"  # as browsers read it
    meta = b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">' + body
    assert decode_page(meta, "text/html")[1] == "meta:cp1252"
    text, how = decode_page(body, "text/html")
    assert "Crème brûlée" in text and how == "detected:cp1252"
    assert decode_page("ok é".encode(), None) == ("ok é", "utf-8")
    assert decode_page(b"\xef\xbb\xbfhi", "text/html; charset=latin-1")[1] == "bom:utf-8-sig"
    assert codec_for("no-such-charset") is None


def test_extraction_metadata_and_broken_html() -> None:
    html = (
        '<html lang="de-AT"><head><title> A  title </title><base href="/sub/">'
        '<meta name="dcterms.rights" content="CC0"><meta name="robots" content="noindex, nofollow">'
        "<link rel=license href=https://example.org/l></head><body>"
        '<a href="x.html">x</a><a href="y.html" rel="nofollow">y</a><script>var t = "no";</script>'
        "<p>Visible text</body></html>"
    )
    meta, visible = parse_html(html)
    assert meta.title == "A title" and meta.lang == "de-AT" and meta.base == "/sub/"
    assert meta.links == ["x.html"] and meta.noindex and meta.nofollow
    assert meta.license_hints == {"meta:dcterms.rights": "CC0", "link:license": "https://example.org/l"}
    assert "Visible text" in visible and "var t" not in visible
    meta, text, method = extract_page("<div><p>Unclosed <b>bold <<< and </i> stray tags in Kigali")
    assert "Kigali" in text and method in ("trafilatura", "fallback")
    _, text, method = extract_page("<html><body><script>only()</script></body></html>")
    assert text == "" and method == "fallback"


def test_near_duplicates_found_and_distinct_texts_not() -> None:
    base = " ".join(f"word{i} river city bridge number {i}" for i in range(60))
    idx = NearDupIndex(threshold=0.8)
    idx.add("a", base)
    hit = idx.match(base + " one extra closing sentence here")
    assert hit is not None and hit[0] == "a" and 0.8 <= hit[1] <= 1.0
    assert idx.match(" ".join(f"other{i} text entirely {i * 7}" for i in range(60))) is None
    assert idx.match("short") is None and len(idx) == 1
