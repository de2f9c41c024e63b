"""Hostile files on import: huge documents, links out of the folder, pipes, broken quotes, odd names."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from studio.ops.collect.importer import ImportResult, ImportSettings, import_paths
from studio.ops.dedup import find_near_duplicates
from studio.ops.embed import HashedNgrams
from studio.schema import Document
from studio.store import Store
from tests.conftest import run_cli

PARAGRAPH = (
    "SEOUL, March 3 (Yonhap) -- Hyundai Mobis said on Tuesday it will supply battery systems to a European carmaker "
    "from 2027, in a deal worth about 2.1 trillion won."
)


def _errors(result: ImportResult) -> list[str]:
    return [str(e) for e in result.errors]


def test_a_document_over_the_size_limit_is_refused_by_name_or_split(store: Store, tmp_path: Path) -> None:
    big = tmp_path / "annual-report.txt"
    big.write_text("\n\n".join(f"{k}. {PARAGRAPH}" for k in range(40)), encoding="utf-8")  # ~6,000 characters
    res = import_paths(store, [big], ImportSettings(max_chars=2000, near_dups=False))
    assert res.imported == 0
    [msg] = _errors(res)
    assert msg.startswith(f"{big}: document of 6,") and "over the limit of 2,000" in msg and "--split-long" in msg
    # --split-long: parts cut at paragraph breaks, none over the limit, the whole text kept
    res = import_paths(store, [big], ImportSettings(max_chars=2000, split_long=True, near_dups=False))
    assert res.imported >= 4 and not res.errors
    docs = list(store.documents())
    assert all(len(d.text) <= 2000 for d in docs) and all(d.text.endswith("won.") for d in docs)
    assert [d.provenance["part"] for d in docs] == list(range(1, len(docs) + 1))
    assert sum(d.text.count("Hyundai Mobis") for d in docs) == 40
    # a row of a .jsonl file over the limit is reported with its line; the other rows go in
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "short one"}\n{"text": "' + "x" * 1200 + '"}\n{"text": "short two"}\n', encoding="utf-8")
    res = import_paths(store, [rows], ImportSettings(max_chars=1000, near_dups=False))
    assert res.imported == 2 and _errors(res)[0].startswith(f"{rows}:2: document of 1,200 characters")
    # a whole-file document far over the limit is refused before it is read
    huge = tmp_path / "dump.txt"
    huge.write_bytes(b"word " * 1000)
    res = import_paths(store, [huge], ImportSettings(max_chars=1000, near_dups=False))
    assert "file of 5,000 bytes is one document over the limit of 1,000 characters" in _errors(res)[0]


def test_links_that_leave_the_folder_are_not_followed(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash", encoding="utf-8")
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "news.txt").write_text(PARAGRAPH, encoding="utf-8")
    (folder / "passwd.txt").symlink_to(outside)
    (folder / "sub" / "same.txt").symlink_to(folder / "news.txt")  # inside the folder: fine
    (folder / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    (folder / "etc").symlink_to(tmp_path)  # a folder outside (here: the parent, a loop)
    res = import_paths(store, [folder], ImportSettings(near_dups=False))
    texts = [d.text for d in store.documents()]
    assert texts == [PARAGRAPH] and res.duplicates == 1
    errors = "\n".join(_errors(res))
    assert f"passwd.txt: symbolic link to {outside}, outside the imported folder; not followed" in errors
    assert "gone.txt: broken symbolic link" in errors and "etc: symbolic link to" in errors


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_instead_of_blocking(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "news.txt").write_text(PARAGRAPH, encoding="utf-8")
    os.mkfifo(folder / "pipe.txt")
    out: list[ImportResult] = []
    worker = threading.Thread(
        target=lambda: out.append(import_paths(store, [folder / "pipe.txt", folder], ImportSettings(near_dups=False))),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # unblock the reader so the test process can end
        fd = os.open(folder / "pipe.txt", os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(timeout=5)
        pytest.fail("importing a FIFO blocked")
    [res] = out
    assert res.imported == 1
    assert [str(e) for e in res.errors] == [
        f"{folder / 'pipe.txt'}: not a regular file (a pipe, socket or device); skipped"
    ] * 2


def test_an_unterminated_csv_quote_is_reported_not_merged(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "reviews.csv"
    f.write_text(
        'text,lang\n"Hyundai said, on Tuesday, it would build a plant",en\n"Kia said sales rose,en\n'
        "LG Energy Solution cut prices,en\nNaver opened a data center,ko\n",
        encoding="utf-8",
    )
    res = import_paths(store, [f], ImportSettings(near_dups=False))
    assert [d.text for d in store.documents()] == ["Hyundai said, on Tuesday, it would build a plant"]
    [msg] = _errors(res)
    assert msg.startswith(f"{f}:3: a quote") and "never closed" in msg and "lines 3-5" in msg
    # a quote closed only several rows later merges them just the same
    g = tmp_path / "later.csv"
    g.write_text(
        'text,lang\n"Samsung said,en\nSK hynix said,en\nPOSCO said,en\nKakao said",en\n"Coupang, Inc. said",en\n',
        encoding="utf-8",
    )
    res = import_paths(store, [g], ImportSettings(near_dups=False))
    assert res.imported == 1 and "closed only later" in _errors(res)[0] and _errors(res)[0].startswith(f"{g}:2:")
    # a real multi-line field is still one document
    h = tmp_path / "multi.csv"
    h.write_text('text,lang\n"HEADLINE\nSEOUL -- body of the story",en\n', encoding="utf-8")
    assert import_paths(store, [h], ImportSettings(near_dups=False)).imported == 1


def test_file_names_are_escaped_in_messages(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok\nerror: fake line.txt").write_text("", encoding="utf-8")  # empty: reported by name
    (folder / "red\x1b[31m.jsonl").write_text("not json\n", encoding="utf-8")
    (folder / "notes\r.md").write_text("x", encoding="utf-8")  # a type we do not read
    proj = tmp_path / "p"
    Store.init(proj).close()
    _, out, err = run_cli("-p", str(proj), "import", str(folder), "--no-near-dups")
    assert "\x1b" not in out + err and "\r" not in out + err
    assert "ok\\nerror: fake line.txt: empty file" in out and "red\\x1b[31m.jsonl:1: not valid JSON" in out
    assert not any(line.startswith("error: fake line") for line in out.splitlines())
    assert "notes\\r.md" in out


class _Counting(HashedNgrams):
    """The real hashed backend, noting how many characters it was asked to encode."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded: list[int] = []

    def encode(self, texts, progress=None):  # type: ignore[no-untyped-def]
        self.encoded += [len(t) for t in texts]
        return super().encode(texts, progress)


def test_the_near_duplicate_check_does_not_vectorize_the_corpus(store: Store, tmp_path: Path) -> None:
    """A 2-million-character document once made every later check vectorize it (23 GB, killed)."""
    store.add_documents([Document(text=" ".join(f"w{i % 50000}" for i in range(300_000)))])  # ~2 MB
    store.add_documents([Document(text=f"{PARAGRAPH} Filing {k}.") for k in range(200)])
    backend = _Counting()
    report = find_near_duplicates(store, backend, only=[201])
    # only the candidates of the new document are compared: near copies of PARAGRAPH, never the big one
    assert report.pairs and max(backend.encoded) < 1000 and len(backend.encoded) <= 201
    res = import_paths(store, [_write(tmp_path / "new.txt", PARAGRAPH + " Filing 7, amended.")], ImportSettings())
    assert res.imported == 1 and res.near_duplicates and res.near_duplicates[0]["of"] == 9


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
