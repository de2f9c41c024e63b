"""One declaration per operation: its arguments, its function, its result.

Every operation (import, crawl, label, train, cleanse, query, release, ...) is declared once with
`@operation(...)`: a pydantic `Args` model (names, defaults, help text, validation), a function
`(ctx, args) -> Result` and a `Result` model. The front ends are built from that declaration:

- the CLI's options come from `Args` (`studio.cli.ops.op_command`), so a default is written once;
- the agent's tools are the operations declared with `agent=True` (their JSON schema from `Args`);
- flows, replays and the app's workers call `run(name, args, ctx)`, the one boundary where a
  tool run is recorded in the session.

An operation module registers itself when imported; `OP_MODULES` lists them, and nothing is
imported until an operation is looked up, so `studio --help` stays fast. Like a Prodigy recipe:
write the operation once, use it from every door.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from studio.errors import StudioError
from studio.store import Store

# The one progress protocol: (stage, done, total or None when unknown).
Progress = Callable[[str, int, "int | None"], None]

# Modules that declare operations. Add a module here to add its operations.
OP_MODULES: list[str] = [
    "studio.ops.verify",
    "studio.ops.dedup",
    "studio.ops.collect.crawl_op",
    "studio.ops.collect.import_op",
    "studio.agent.ops",
    "studio.ops.ner.evaluate",
    "studio.ops.ner.label",
    "studio.ops.team.assign",
    "studio.ops.team.agreement",
    "studio.ops.team.adjudicate",
    "studio.ops.team.edge_cases",
    "studio.ops.boxes.augment",
    "studio.ops.boxes.operations",
    "studio.ops.ner.train",
    "studio.ops.active.operations",
    "studio.ops.ner.weights",
    "studio.ops.synth",
    "studio.ops.release.operation",
]


M = TypeVar("M", bound=BaseModel)


class Args(BaseModel):
    """An operation's arguments. Field descriptions are the help text; defaults live only here.

    `json_schema_extra` keys read by the front ends: `cli` = "argument" (a positional CLI
    argument), `short` = "-n" (a short CLI flag), `path` = True (a file or folder: the CLI
    resolves it, a recording stores it relative to the project when it is inside it), `record` =
    False (with `path`: a recording keeps the path but not the files, e.g. a folder of images).
    """

    model_config = ConfigDict(extra="forbid")

    def pick(self, model: type[M], **overrides: Any) -> M:
        """`model` (an area's settings) built from the arguments of the same names, plus `overrides`:
        an operation passes its arguments on without restating each field."""
        same = {k: getattr(self, k) for k in model.model_fields if k in type(self).model_fields}
        return model(**{**same, **overrides})


class Result(BaseModel):
    """An operation's result: `--json` prints it, `summary()` is what a person reads."""

    def summary(self) -> str:
        return ""


A = TypeVar("A", bound=Args)
R = TypeVar("R", bound=Result)


class OperationError(StudioError):
    """An operation was named or called wrongly (unknown name, invalid arguments)."""


class Cancelled(StudioError):
    """The person cancelled a running operation."""

    exit_code = 130


@dataclass
class OpContext:
    """What an operation gets besides its arguments: explicit inputs, no globals."""

    store: Store
    actor: str = "human:user"
    llm_spec: str | None = None
    progress: Progress | None = None
    cancel: threading.Event | None = None
    transport: Any = None  # an httpx transport for fetches (recording or replaying a session)
    llm_factory: Callable[[], Any] | None = None  # e.g. the app's one shared model
    _llm: Any = field(default=None, repr=False)

    @property
    def llm(self) -> Any:
        """The project's model (studio.llm.LLM), opened on first use."""
        if self._llm is None:
            if self.llm_factory is not None:
                self._llm = self.llm_factory()
            else:
                from studio.llm import open_llm

                self._llm = open_llm(self.store, self.llm_spec)
        return self._llm

    def report(self, stage: str, done: int, total: int | None = None) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def fraction_progress(self, stage: str) -> Callable[[str, float | None], None] | None:
        """An adapter for older operations that report (message, fraction done)."""
        if self.progress is None:
            return None

        def update(message: str, frac: float | None) -> None:
            self.report(message or stage, round((frac or 0.0) * 1000), 1000 if frac is not None else None)

        return update

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise Cancelled("cancelled; what was done so far is kept")

    def path(self, p: str) -> Path:
        """Arguments name paths relative to the project, so a recording replays anywhere."""
        q = Path(p).expanduser()
        return q if q.is_absolute() else self.store.root / q


@dataclass(frozen=True)
class Operation(Generic[A, R]):
    name: str
    args: type[A]
    result: type[R]
    fn: Callable[[OpContext, A], R]
    help: str
    side_effects: bool = True  # the agent may only run it after a person approves
    agent: bool = False  # offered to the agent as a tool

    @property
    def summary(self) -> str:
        return _first_line(self.help) or self.name

    def validate(self, args: Args | Mapping[str, Any] | None) -> A:
        if isinstance(args, self.args):
            return args
        data = args.model_dump() if isinstance(args, BaseModel) else dict(args or {})
        try:
            return self.args.model_validate(data)
        except ValidationError as exc:
            raise OperationError(f"{self.name}: {describe_validation(exc)}") from exc

    def schema(self) -> dict[str, Any]:
        return self.args.model_json_schema()


REGISTRY: dict[str, Operation[Any, Any]] = {}
_loaded = False


def operation(
    name: str, *, args: type[A], result: type[R], help: str, side_effects: bool = True, agent: bool = False
) -> Callable[[Callable[[OpContext, A], R]], Callable[[OpContext, A], R]]:
    """Declare an operation. The decorated function stays callable as it is."""

    def deco(fn: Callable[[OpContext, A], R]) -> Callable[[OpContext, A], R]:
        existing = REGISTRY.get(name)
        if existing is not None and existing.fn.__qualname__ != fn.__qualname__:
            raise OperationError(f"operation {name!r} is declared twice ({existing.fn.__module__}, {fn.__module__})")
        REGISTRY[name] = Operation(name, args, result, fn, help, side_effects, agent)
        return fn

    return deco


@dataclass(frozen=True)
class Entry:
    """What is known of an operation without importing its module: where it is declared, and the
    first line of its help when the declaration writes it as a string."""

    module: str
    summary: str | None


_index: dict[str, Entry] | None = None


def index() -> dict[str, Entry]:
    """Every operation of OP_MODULES by name, read from the modules' source (not imported), so
    `studio --help` can list the operations without building their Args (pydantic models) or
    importing what they need to run (numpy, httpx, Pillow, ...)."""
    global _index
    if _index is None:
        found: dict[str, Entry] = {}
        for module in OP_MODULES:
            for name, summary in _declared(module):
                found.setdefault(name, Entry(module, summary))
        _index = found
    return _index


_DECORATOR = re.compile(r"^@operation\(", re.MULTILINE)


def parse_python(src: str, mode: str = "exec") -> Any:
    """`ast.parse`, tried again when CPython 3.11 before 3.11.8 raises "AST constructor recursion depth
    mismatch": its AST converter keeps a depth counter per interpreter, not per thread, so another
    thread converting an AST at the same moment (3.11 does so to format a traceback) can trip it
    (python/cpython#106905). The source is fine; a second try succeeds."""
    import ast

    for attempt in range(3):
        try:
            return ast.parse(src, mode=mode)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _declared(module: str) -> list[tuple[str, str | None]]:
    """(name, summary) of each `@operation(...)` in the module's source: only the decorator calls
    are parsed (a whole module takes ten times longer), and the module itself when the help
    text is a module-level constant."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return []
    src = Path(spec.origin).read_text(encoding="utf-8")
    out = []
    for m in _DECORATOR.finditer(src):
        call, end = None, m.end()
        while call is None and (end := src.find(")", end) + 1) > 0:
            with contextlib.suppress(SyntaxError):
                call = parse_python(src[m.start() + 1 : end], mode="eval").body
        if not isinstance(call, ast.Call) or not call.args or not isinstance(call.args[0], ast.Constant):
            continue
        help_node = next((k.value for k in call.keywords if k.arg == "help"), None)
        text = None
        if isinstance(help_node, ast.Constant) and isinstance(help_node.value, str):
            text = help_node.value
        elif isinstance(help_node, ast.Name):
            text = _constant(parse_python(src), help_node.id)
        out.append((str(call.args[0].value), _first_line(text) if text is not None else None))
    return out


def _constant(tree: Any, name: str) -> str | None:
    import ast

    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)):
            continue
        if isinstance(node.value.value, str) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value.value
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def summary(name: str) -> str:
    """The first line of an operation's help, without importing it when its source says it."""
    entry = index().get(name)
    if name not in REGISTRY and entry is not None and entry.summary is not None:
        return entry.summary or name
    return get(name).summary


def load_all() -> dict[str, Operation[Any, Any]]:
    global _loaded
    if not _loaded:
        for module in OP_MODULES:
            importlib.import_module(module)
        _loaded = True
    return REGISTRY


def get(name: str) -> Operation[Any, Any]:
    """The operation `name`; only its own module is imported (all of them for an unknown name)."""
    if name not in REGISTRY and name in index():
        importlib.import_module(index()[name].module)
    if name in REGISTRY:
        return REGISTRY[name]
    ops = load_all()
    if name not in ops:
        raise OperationError(f"no operation named {name!r}; known: {', '.join(sorted(ops))}")
    return ops[name]


def agent_operations() -> list[Operation[Any, Any]]:
    """The operations the agent may propose, in declaration order."""
    return [op for op in load_all().values() if op.agent]


def run(name: str, args: Args | Mapping[str, Any] | None, ctx: OpContext) -> Any:
    """Run an operation: validate its arguments, record the run in the session, call it.

    This is the one boundary where tool runs are recorded (`studio.llm.session.recorded`: the
    arguments, actor and input files before the run, the result or error after it). A run inside
    another run (an agent action running its tool) is part of the outer one and is not recorded
    again, since a replay re-executes the outer run. Human decisions an operation makes are part
    of its run, not separate session events.
    """
    from studio.llm.session import recorded

    op = get(name)
    validated = op.validate(args)
    result = recorded(
        ctx.store, op.name, validated.model_dump(mode="json"), lambda: op.fn(ctx, validated),
        actor=ctx.actor, inputs=path_fields(op.args),
    )  # fmt: skip
    if not isinstance(result, op.result):
        raise OperationError(f"operation {name!r} returned {type(result).__name__}, not {op.result.__name__}")
    return result


def path_fields(args_model: type[Args]) -> list[str]:
    """The arguments that name files or folders (`json_schema_extra={"path": True}`)."""
    out = []
    for fname, info in args_model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("path") and extra.get("record", True):
            out.append(fname)
    return out


def describe_validation(exc: ValidationError) -> str:
    """Pydantic's errors as one line a person can act on: `--max-pages: must be >= 1 (got 0)`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ())) or "arguments"
        if err.get("type") == "extra_forbidden":
            parts.append(f"unknown argument {loc!r}")
            continue
        got = err.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        parts.append(f"{loc.replace('_', '-')}: {err.get('msg', 'invalid')}{shown}")
    return "; ".join(parts)
