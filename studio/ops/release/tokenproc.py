"""The token formats of a large release in a second process, while the first plans the splits.

Tokenizing is most of a release's work and does not depend on the split plan: a child process
(`python -m studio.ops.release.tokenproc`) imports spaCy and tokenizes the documents while the
parent scans for PII, groups near duplicates and writes JSONL; the parent then tells it which
document goes to which split and it writes `spacy/` and `conll/` with the same code, in the same
order, as `formats.write_token_formats` in one process (so the same bytes).

The child is a plain subprocess, not `multiprocessing`: it is safe to start from the app's worker
thread (no fork of a threaded process) and does not re-import the caller's `__main__`.
Messages are JSON lines on its stdin naming pickle files in a private temporary folder (so the
parent never blocks on a full pipe while the child is busy); its answer, the `TokenReport`, is
JSON on its stdout, and its stderr goes to a file quoted in the error if it fails.
"""

from __future__ import annotations

import gc
import json
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any

from studio.errors import StudioError
from studio.ops.release.formats import Encoded, TokenReport
from studio.ops.release.models import ReleaseDoc
from studio.schema import Span

PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the folder holding the `studio` package

# Below this many documents the start-up (~2 s to import spaCy again) costs more than it saves.
PARALLEL_FROM = 20_000


class TokenProcess:
    """Start with `TokenProcess(lang, mode)`; `send` documents (again when their text changed);
    `write(folder, documents by split)`, then `result()` (or both: `finish`); always `close()`
    (kills the child if it still runs)."""

    def __init__(self, lang: str, mode: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="studio-tokens-"))
        self.err: IO[bytes] = (self.dir / "stderr.txt").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "studio.ops.release.tokenproc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            # `python -m` puts its working directory first on sys.path: started in the folder that
            # holds this process's `studio` package, the child runs the same code (not a `studio`
            # folder that happens to be in the caller's working directory, e.g. another checkout).
            cwd=PACKAGE_ROOT,
        )
        self.sent = 0
        self._send({"lang": lang, "mode": mode})

    def _send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            self._fail()

    def _dump(self, obj: Any) -> str:
        self.sent += 1
        path = self.dir / f"{self.sent}.pickle"
        with path.open("wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return str(path)

    def send(self, docs: Sequence[ReleaseDoc]) -> None:
        """Documents to tokenize; a document sent again replaces its earlier version."""
        if docs:
            rows = [(d.id, d.text, [(s.start, s.end, s.label, s.text) for s in d.spans]) for d in docs]
            self._send({"docs": self._dump(rows)})

    def write(self, folder: Path, by_split: dict[str, list[ReleaseDoc]]) -> None:
        """Start writing `spacy/` and `conll/` in `folder` (the last message): the child writes
        them while this process goes on with JSONL and the card's figures."""
        self._send(
            {
                "folder": str(folder.absolute()),
                "splits": self._dump({s: [d.id for d in v] for s, v in by_split.items()}),
            }
        )

    def result(self) -> TokenReport:
        """Wait for the files `write` started; the report (misfits, files, entities)."""
        out, _ = self.proc.communicate()
        if self.proc.returncode != 0:
            self._fail()
        return TokenReport.model_validate_json(out)

    def finish(self, folder: Path, by_split: dict[str, list[ReleaseDoc]]) -> TokenReport:
        self.write(folder, by_split)
        return self.result()

    def _fail(self) -> None:
        self.proc.wait()
        self.err.flush()
        tail = (self.dir / "stderr.txt").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise StudioError(
            "writing the spaCy and CoNLL files failed in their second process "
            f"(exit {self.proc.returncode}): " + (" | ".join(tail) or "no message")
        )

    def __enter__(self) -> TokenProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fh in (self.proc.stdin, self.proc.stdout, self.err):
            if fh is not None:
                fh.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def lean_vocab(nlp: Any) -> None:
    """Make new lexemes of `nlp` compute only what the token formats read: NORM (its strings go in
    the DocBin), IS_SPACE (whitespace tokens) and LANG (the vocabulary's language). spaCy computes
    some twenty attributes for each new word (shape, prefix, suffix, like_url, ...); ~1 s of the
    100k release. Only for a pipeline no one else uses: this process's own."""
    from spacy.attrs import IS_SPACE, LANG, NORM

    nlp.vocab.lex_attr_getters = {k: v for k, v in nlp.vocab.lex_attr_getters.items() if k in (NORM, IS_SPACE, LANG)}


def _child() -> None:
    # This process only tokenizes. spaCy's thinc imports torch when it is installed (about 3 s of this
    # process's start, on the release's critical path) and never uses it here: make it unavailable.
    sys.modules.setdefault("torch", None)  # type: ignore[arg-type]
    # It makes and keeps ~100k Docs' arrays and CoNLL blocks and no garbage cycles: the collector's
    # passes over them would cost seconds of its CPU.
    gc.disable()
    from studio.ops.ner.tokens import get_nlp
    from studio.ops.release.formats import TokenEncoder, write_encoded

    cfg = json.loads(sys.stdin.readline())
    nlp = get_nlp(cfg["lang"])  # spaCy loads while the parent reads the store
    lean_vocab(nlp)
    encoder = TokenEncoder(nlp)
    encoded: dict[int, Encoded] = {}
    for line in sys.stdin:
        msg = json.loads(line)
        if "docs" in msg:
            with open(msg["docs"], "rb") as fh:
                rows = pickle.load(fh)
            for doc_id, text, spans in rows:
                # A document sent again (redacted) replaces its earlier encoding.
                encoded[doc_id] = encoder.encode_row(
                    doc_id, text, spans, partial(_doc, doc_id, text, spans, cfg["lang"])
                )
        else:
            with open(msg["splits"], "rb") as fh:
                ids = pickle.load(fh)
            by_split = {s: (encoded[i] for i in v) for s, v in ids.items()}
            total = sum(len(v) for v in ids.values())
            report = write_encoded(Path(msg["folder"]), by_split, nlp, cfg["mode"], total)
            sys.stdout.write(report.model_dump_json())
            return


def _doc(doc_id: int, text: str, spans: list[tuple[int, int, str, str]], lang: str) -> ReleaseDoc:
    """The document as a ReleaseDoc, for the few that `make_doc` aligns. Only the id, text and spans
    matter to the token formats; the parent validated them."""
    return ReleaseDoc.model_construct(
        id=doc_id, text=text, lang=lang, source="", content_hash="",
        spans=[Span.model_construct(start=a, end=b, label=lab, text=t) for a, b, lab, t in spans],
    )  # fmt: skip


if __name__ == "__main__":
    _child()
