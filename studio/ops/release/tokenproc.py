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

import json
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from studio.errors import StudioError
from studio.ops.release.formats import Encoded, TokenReport
from studio.ops.release.models import ReleaseDoc
from studio.schema import Span

# Below this many documents the start-up (~2 s to import spaCy again) costs more than it saves.
PARALLEL_FROM = 20_000


class TokenProcess:
    """Start with `TokenProcess(lang, mode)`; `send` documents (again when their text changed);
    `finish(folder, ids by split)`; always `close()` (kills the child if it still runs)."""

    def __init__(self, lang: str, mode: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="studio-tokens-"))
        self.err: IO[bytes] = (self.dir / "stderr.txt").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "studio.ops.release.tokenproc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
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

    def finish(self, folder: Path, by_split: dict[str, list[ReleaseDoc]]) -> TokenReport:
        self._send({"folder": str(folder), "splits": self._dump({s: [d.id for d in v] for s, v in by_split.items()})})
        out, _ = self.proc.communicate()
        if self.proc.returncode != 0:
            self._fail()
        return TokenReport.model_validate_json(out)

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


def _child() -> None:
    # This process only tokenizes. spaCy's thinc imports torch when it is installed (about 3 s of this
    # process's start, on the release's critical path) and never uses it here: make it unavailable.
    sys.modules.setdefault("torch", None)  # type: ignore[arg-type]
    from studio.ops.ner.tokens import get_nlp
    from studio.ops.release.formats import TokenEncoder, write_token_formats

    cfg = json.loads(sys.stdin.readline())
    encoder = TokenEncoder(get_nlp(cfg["lang"]))  # spaCy loads while the parent reads the store
    docs: dict[int, ReleaseDoc] = {}
    encoded: dict[int, Encoded] = {}
    for line in sys.stdin:
        msg = json.loads(line)
        if "docs" in msg:
            with open(msg["docs"], "rb") as fh:
                rows = pickle.load(fh)
            for doc_id, text, spans in rows:
                # Only the id, text and spans matter to the token formats; the parent validated them.
                d = ReleaseDoc.model_construct(
                    id=doc_id, text=text, lang=cfg["lang"], source="", content_hash="",
                    spans=[Span.model_construct(start=a, end=b, label=lab, text=t) for a, b, lab, t in spans],
                )  # fmt: skip
                docs[doc_id] = d
                encoded[doc_id] = encoder.encode(d)
        else:
            with open(msg["splits"], "rb") as fh:
                ids = pickle.load(fh)
            by_split = {s: [docs[i] for i in v] for s, v in ids.items()}
            report = write_token_formats(Path(msg["folder"]), by_split, cfg["lang"], cfg["mode"], encoded=encoded)
            sys.stdout.write(report.model_dump_json())
            return


if __name__ == "__main__":
    _child()
