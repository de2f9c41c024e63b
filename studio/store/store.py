"""The project store: one folder, one SQLite file, an append-only decision log."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from studio.errors import InvalidState, LogTampered, NotFound, ProjectNotFound, StudioError
from studio.schema import Decision, Document, Guideline, Proposal, Span, check_actor, utcnow
from studio.store import chain, db, state, versions

DB_NAME = "studio.db"
# The action prefix of decisions about each kind of proposal: label.accept, boxes.fix.reject, ...
KIND_PREFIX = {
    "span": "label",
    "box_fix": "boxes.fix",
    "box_augment": "boxes.augment",
    "action": "agent.action",
    "document": "document",
}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class Store:
    """A Studio project. Open with `Store.init(dir)` (new) or `Store.open(dir)` (existing)."""

    def __init__(self, root: Path, conn: sqlite3.Connection) -> None:
        self.root = root
        self.conn = conn
        self.session_id: str | None = None
        self._lock = threading.RLock()
        self._depth = 0
        # When set, human decisions are appended to the session recording (see studio/flows).
        # Human decisions outside tool runs are session events, so any session can be replayed.
        self.record_human_events = True
        self._quiet = 0
        # Things found wrong and repaired on open, for the front end to show (e.g. dropped triggers).
        self.warnings: list[str] = []

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def init(cls, root: str | Path) -> Store:
        root = Path(root).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        conn = db.connect(root / DB_NAME)
        db.migrate(conn, root / DB_NAME)
        (root / "artifacts").mkdir(exist_ok=True)
        return cls._checked(root, conn)

    @classmethod
    def open(cls, root: str | Path) -> Store:
        root = Path(root).expanduser().resolve()
        path = root / DB_NAME
        if not path.is_file():
            raise ProjectNotFound(f"no Studio project in {root}: run `studio init {root}` or pass --project DIR")
        try:
            conn = db.connect(path)
            db.migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            raise StudioError(f"{path} is not a readable Studio database ({exc})") from exc
        return cls._checked(root, conn)

    @classmethod
    def _checked(cls, root: Path, conn: sqlite3.Connection) -> Store:
        store = cls(root, conn)
        repaired = chain.ensure_triggers(conn)
        if repaired:
            store.warnings.append(
                f"the decision log's append-only triggers ({', '.join(repaired)}) were missing or changed and have "
                "been re-created: run `studio verify` to check the log was not altered meanwhile"
            )
        return store

    def close(self) -> None:
        if self.session_id:
            with contextlib.suppress(sqlite3.Error):
                self.end_session()
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    # -- transactions --------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            db.begin_write(self.conn, self.root / DB_NAME)
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")

    # -- sessions ------------------------------------------------------------------------
    def start_session(self, name: str = "", meta: dict[str, Any] | None = None) -> str:
        sid = uuid.uuid4().hex[:12]
        with self.transaction() as c:
            c.execute(
                "INSERT INTO sessions (id, name, started_at, meta) VALUES (?, ?, ?, ?)",
                (sid, name, utcnow(), _dumps(meta or {})),
            )
        self.session_id = sid
        return sid

    def end_session(self) -> None:
        if self.session_id:
            with self.transaction() as c:
                c.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (utcnow(), self.session_id))
            self.session_id = None

    # -- the decision log ----------------------------------------------------------------
    def record(
        self,
        actor: str,
        action: str,
        subject_ids: Iterable[object] = (),
        payload: dict[str, Any] | None = None,
        rationale: str = "",
        replay: dict[str, Any] | None = None,
    ) -> Decision:
        """Append a decision and apply it to the state, in one transaction.

        `replay` is what a replay needs besides the decision to make the same change (e.g. the
        body of a guideline version a person wrote): it goes into the session recording's
        `decision` event, not into the decision log."""
        d = Decision(
            ts=utcnow(),
            session_id=self.session_id,
            actor=check_actor(actor),
            action=action,
            subject_ids=[str(s) for s in subject_ids],
            payload=payload or {},
            rationale=rationale,
        )
        with self.transaction() as c:
            if d.payload and d.actor.startswith("human:"):  # in a team project: the annotator's own version
                d.payload = versions.route(c, d.actor, d.action, d.payload)
            # The previous hash is read inside this write transaction (BEGIN IMMEDIATE), so
            # concurrent writers chain one after another.
            last_id, prev = chain.head(c)
            d.id = last_id + 1
            subjects, payload = _dumps(d.subject_ids), _dumps(d.payload)
            content = (d.id, d.ts, d.session_id, d.actor, d.action, subjects, payload, d.rationale)
            c.execute(
                "INSERT INTO decisions (id, ts, session_id, actor, action, subject_ids, payload, rationale,"
                " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*content, prev, chain.decision_hash(prev, content)),
            )
            state.apply_decision(c, d.id, d.action, d.payload)
            if self.record_human_events and not self._quiet and d.actor.startswith("human:"):
                self.add_event(
                    "decision",
                    d.action,
                    {
                        "actor": d.actor,
                        "action": d.action,
                        "subject_ids": d.subject_ids,
                        "payload": d.payload,
                        "rationale": d.rationale,
                        **({"replay": replay} if replay else {}),
                    },
                )
        return d

    @contextlib.contextmanager
    def quiet_human_events(self) -> Iterator[None]:
        """Inside a tool run, human decisions it makes are part of the tool, not separate events."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def decisions(
        self,
        actor: str | None = None,
        action: str | None = None,
        limit: int | None = None,
        since_id: int = 0,
    ) -> list[Decision]:
        """Decisions, oldest first. `actor` matches exactly or by prefix ('human'); `action` by prefix."""
        sql = "SELECT * FROM decisions WHERE id > ?"
        args: list[Any] = [since_id]
        if actor:
            sql += " AND (actor = ? OR actor LIKE ?)"
            args += [actor, actor.rstrip(":") + ":%"]
        if action:
            sql += " AND (action = ? OR action LIKE ?)"
            args += [action, action.rstrip(".") + ".%"]
        sql += " ORDER BY id"
        if limit:
            sql = f"SELECT * FROM ({sql.replace('ORDER BY id', 'ORDER BY id DESC')} LIMIT ?) ORDER BY id"
            args.append(limit)
        return [_decision(r) for r in self.conn.execute(sql, args)]

    def run_id(self, prefix: str) -> str:
        """A name for a run that is the same when the same state is replayed (no clock, no randomness)."""
        n = self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM decisions").fetchone()[0]
        return f"{prefix}-{n}"

    def verify(self) -> chain.ChainReport:
        """Check the decision log's hash chain and triggers; the first broken link, if any."""
        return chain.verify(self.conn)

    def rebuild_state(self) -> int:
        """Recompute guideline status, proposal status and labels from the decision log.

        Refused when the log's hash chain is broken: a forged decision must not become state."""
        with self.transaction() as c:
            report = chain.verify(c)
            if report.broken_at is not None:
                raise LogTampered(
                    f"the decision log is not intact ({report.problem}); the state was not rebuilt: "
                    "restore studio.db from a backup, or see `studio verify`"
                )
            return state.rebuild(c)

    # -- documents -----------------------------------------------------------------------
    def add_documents(
        self, docs: Iterable[Document], actor: str = "tool", rationale: str = ""
    ) -> list[tuple[int, bool]]:
        """Insert documents, deduplicated by content hash. Returns (id, is_new) per input."""
        out: list[tuple[int, bool]] = []
        with self.transaction() as c:
            for doc in docs:
                row = c.execute("SELECT id FROM documents WHERE content_hash = ?", (doc.content_hash,)).fetchone()
                if row is not None:
                    out.append((int(row[0]), False))
                    continue
                cur = c.execute(
                    "INSERT INTO documents (content_hash, text, source, lang, provenance, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        doc.content_hash,
                        doc.text,
                        doc.source,
                        doc.lang,
                        _dumps(doc.provenance),
                        doc.created_at or utcnow(),
                    ),
                )
                out.append((int(cur.lastrowid or 0), True))
            new = [i for i, is_new in out if is_new]
            if new:
                self.record(
                    actor,
                    "documents.add",
                    subject_ids=new if len(new) <= 50 else [],
                    payload={
                        "count": len(new),
                        "first_id": new[0],
                        "last_id": new[-1],
                        "skipped_duplicates": len(out) - len(new),
                    },
                    rationale=rationale,
                )
        return out

    def add_document(self, doc: Document, actor: str = "tool") -> tuple[int, bool]:
        return self.add_documents([doc], actor)[0]

    def document(self, doc_id: int) -> Document:
        row = self.conn.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            raise NotFound(f"document {doc_id} does not exist (see `studio status` for counts)")
        return _document(row)

    def documents(self, source: str | None = None, limit: int | None = None, after_id: int = 0) -> Iterator[Document]:
        sql = "SELECT * FROM documents WHERE id > ?"
        args: list[Any] = [after_id]
        if source:
            sql += " AND source = ?"
            args.append(source)
        sql += " ORDER BY id"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        for row in self.conn.execute(sql, args).fetchall():
            yield _document(row)

    def document_ids(self) -> list[int]:
        return [int(r[0]) for r in self.conn.execute("SELECT id FROM documents ORDER BY id")]

    # -- guidelines ----------------------------------------------------------------------
    def add_guideline(
        self,
        guideline: Guideline,
        actor: str,
        parent: int | None = None,
        rationale: str = "",
        action: str = "guideline.propose",
    ) -> int:
        """Store a new guideline version as a draft (proposed by the agent or edited by a human)."""
        with self.transaction() as c:
            row = c.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM guidelines").fetchone()
            version = int(row[0])
            c.execute(
                "INSERT INTO guidelines (version, body, parent, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                (version, guideline.model_dump_json(), parent, utcnow(), actor),
            )
            self.record(
                actor, action, [f"guideline:{version}"], {"version": version, "parent": parent}, rationale,
                replay={"guideline": guideline.model_dump(mode="json")},
            )  # fmt: skip
        return version

    def decide_guideline(self, version: int, actor: str, verb: str, rationale: str = "") -> Decision:
        if verb not in ("approve", "reject"):
            raise ValueError(verb)
        g = self.guideline(version)
        if verb == "approve" and g[1] == "approved":
            raise InvalidState(f"guideline version {version} is already approved")
        return self.record(actor, f"guideline.{verb}", [f"guideline:{version}"], {"version": version}, rationale)

    def guideline(self, version: int | None = None) -> tuple[Guideline, str, int]:
        """(guideline, status, version); the newest version when `version` is None."""
        if version is None:
            row = self.conn.execute("SELECT * FROM guidelines ORDER BY version DESC LIMIT 1").fetchone()
            if row is None:
                raise NotFound('there is no guideline yet: run `studio plan "GOAL"` to draft one')
        else:
            row = self.conn.execute("SELECT * FROM guidelines WHERE version = ?", (version,)).fetchone()
            if row is None:
                raise NotFound(f"guideline version {version} does not exist")
        return Guideline.model_validate_json(row["body"]), row["status"], int(row["version"])

    def approved_guideline(self) -> tuple[Guideline, int] | None:
        row = self.conn.execute(
            "SELECT * FROM guidelines WHERE status = 'approved' ORDER BY version DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return Guideline.model_validate_json(row["body"]), int(row["version"])

    def guideline_versions(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT version, parent, status, created_at, created_by FROM guidelines ORDER BY version"
        )
        return [dict(r) for r in rows]

    # -- proposals -----------------------------------------------------------------------
    def add_proposals(
        self, proposals: Iterable[Proposal], actor: str = "agent", action: str | None = None, rationale: str = ""
    ) -> list[int]:
        """Write proposals and the one decision that proposes them, in one transaction."""
        props = list(proposals)
        if not props:
            return []
        ids: list[int] = []
        with self.transaction() as c:
            kinds = sorted({p.kind for p in props})
            act = action or (f"{KIND_PREFIX[kinds[0]]}.propose" if len(kinds) == 1 else "proposals.propose")
            d = self.record(actor, act, [], {"count": len(props), "kinds": kinds, "batch": props[0].batch}, rationale)
            now = utcnow()
            for p in props:
                cur = c.execute(
                    "INSERT INTO proposals (kind, document_id, payload, source, confidence, status, batch, created_at, decision_id)"
                    " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                    (p.kind, p.document_id, _dumps(p.payload), p.source, p.confidence, p.batch, now, d.id),
                )
                ids.append(int(cur.lastrowid or 0))
        return ids

    def proposal(self, pid: int) -> Proposal:
        row = self.conn.execute("SELECT * FROM proposals WHERE id = ?", (pid,)).fetchone()
        if row is None:
            raise NotFound(f"proposal {pid} does not exist")
        return _proposal(row)

    def proposals(
        self,
        kind: str | None = None,
        status: str | None = "pending",
        document_id: int | None = None,
        limit: int | None = None,
        after_id: int = 0,
    ) -> list[Proposal]:
        sql = "SELECT * FROM proposals WHERE id > ?"
        args: list[Any] = [after_id]
        for col, val in (("kind", kind), ("status", status), ("document_id", document_id)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY id"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        return [_proposal(r) for r in self.conn.execute(sql, args)]

    def decide(self, pid: int, actor: str, verb: str, rationale: str = "", **extra: Any) -> Decision:
        """Accept, reject or edit a proposal. The action is `<kind>.<verb>` (e.g. label.accept)."""
        p = self.proposal(pid)
        if p.status != "pending":
            raise InvalidState(f"proposal {pid} is already {p.status}")
        prefix = KIND_PREFIX[p.kind]
        payload: dict[str, Any] = {"proposal_id": pid, **extra}
        subjects = [f"proposal:{pid}"] + ([f"doc:{p.document_id}"] if p.document_id else [])
        return self.record(actor, f"{prefix}.{verb}", subjects, payload, rationale)

    def accept_span(self, pid: int, actor: str, edited: Span | None = None, rationale: str = "") -> Decision:
        """Approve a span proposal as is, or with a human edit (new boundaries or label)."""
        p = self.proposal(pid)
        if p.kind != "span":
            raise InvalidState(f"proposal {pid} is a {p.kind} proposal, not a span")
        if edited is None:
            return self.decide(pid, actor, "accept", rationale)
        doc = self.document(int(p.document_id or 0))
        edited.check_against(doc.text)
        span = edited.model_copy(update={"text": doc.text[edited.start : edited.end]})
        return self.decide(pid, actor, "edit", rationale, span=span.model_dump(), before=p.payload.get("span"))

    def undo(self, decision_id: int, actor: str, rationale: str = "") -> Decision:
        target = self.conn.execute("SELECT action FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        if target is None:
            raise NotFound(f"decision {decision_id} does not exist")
        kind = target["action"].rpartition(".")[0]
        return self.record(actor, f"{kind}.undo", [f"decision:{decision_id}"], {"undoes": decision_id}, rationale)

    # -- labels (approved spans) -------------------------------------------------------------
    def approved_spans(self, document_id: int) -> list[Span]:
        rows = self.conn.execute(
            'SELECT start, "end", label, text FROM labels WHERE document_id = ? ORDER BY start, "end"', (document_id,)
        )
        return [Span(start=r[0], end=r[1], label=r[2], text=r[3]) for r in rows]

    def labeled_document_ids(self) -> list[int]:
        """Documents a human has reviewed (with approved labels, or all proposals decided)."""
        rows = self.conn.execute(
            "SELECT DISTINCT document_id FROM labels UNION "
            "SELECT document_id FROM proposals WHERE kind = 'span' AND document_id IS NOT NULL "
            "GROUP BY document_id HAVING SUM(status = 'pending') = 0 ORDER BY 1"
        )
        return [int(r[0]) for r in rows]

    # -- session recording ---------------------------------------------------------------
    def add_event(self, kind: str, key: str, payload: dict[str, Any]) -> int:
        """Append one event (llm, http, tool, decision) to the current session's recording."""
        if not self.session_id:
            self.start_session("recording")
        with self.transaction() as c:
            seq = c.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM session_events WHERE session_id = ?", (self.session_id,)
            ).fetchone()[0]
            c.execute(
                "INSERT INTO session_events (session_id, seq, kind, key, payload) VALUES (?, ?, ?, ?, ?)",
                (self.session_id, seq, kind, key, _dumps(payload)),
            )
        return int(seq)

    def events(self, session_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT session_id, seq, kind, key, payload FROM session_events WHERE session_id = ?"
        args: list[Any] = [session_id or self.session_id]
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        rows = self.conn.execute(sql + " ORDER BY seq", args)
        return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]

    # -- settings ------------------------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any, actor: str = "human:user") -> None:
        """Settings are user choices, so each change is a decision too."""
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, _dumps(value)))
            self.record(actor, "settings.set", [key], {"key": key, "value": value})

    # -- summary -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        q = self.conn.execute
        g = q("SELECT version, status FROM guidelines ORDER BY version DESC LIMIT 1").fetchone()
        approved = q("SELECT MAX(version) FROM guidelines WHERE status = 'approved'").fetchone()[0]
        pending = {r[0]: r[1] for r in q("SELECT kind, COUNT(*) FROM proposals WHERE status = 'pending' GROUP BY kind")}
        return {
            "project": str(self.root),
            "documents": q("SELECT COUNT(*) FROM documents").fetchone()[0],
            "pending_proposals": sum(pending.values()),
            "pending_by_kind": pending,
            "approved_labels": q("SELECT COUNT(*) FROM labels").fetchone()[0],
            "labeled_documents": q("SELECT COUNT(DISTINCT document_id) FROM labels").fetchone()[0],
            "guideline_version": g["version"] if g else None,
            "guideline_status": g["status"] if g else None,
            "approved_guideline_version": approved,
            "decisions": q("SELECT COUNT(*) FROM decisions").fetchone()[0],
            "llm_calls": q("SELECT COUNT(*) FROM llm_calls").fetchone()[0],
        }


def _decision(row: sqlite3.Row) -> Decision:
    return Decision(
        id=row["id"],
        ts=row["ts"],
        session_id=row["session_id"],
        actor=row["actor"],
        action=row["action"],
        subject_ids=json.loads(row["subject_ids"]),
        payload=json.loads(row["payload"]),
        rationale=row["rationale"],
    )


def _document(row: sqlite3.Row) -> Document:
    return Document(
        id=row["id"],
        text=row["text"],
        source=row["source"],
        lang=row["lang"],
        provenance=json.loads(row["provenance"]),
        content_hash=row["content_hash"],
        created_at=row["created_at"],
    )


def _proposal(row: sqlite3.Row) -> Proposal:
    return Proposal(
        id=row["id"],
        kind=row["kind"],
        document_id=row["document_id"],
        payload=json.loads(row["payload"]),
        source=row["source"],
        confidence=row["confidence"],
        status=row["status"],
        batch=row["batch"],
        created_at=row["created_at"],
    )
