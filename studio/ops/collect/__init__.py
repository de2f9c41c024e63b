"""Collect: a polite web crawler and file import, each document with its provenance.

Modules: urls (normalization, scope), decode (charsets), extract (main text, links, license
hints), neardup (MinHash), fetch (HTTP), robots, frontier (the crawl tables), crawl (the
crawler), importer (files), recording (record/replay of HTTP responses).
"""
