"""The operation registry (studio/ops/registry.py) and the CLI built from it (studio/cli/ops.py)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from pydantic import Field

from studio.cli import cli
from studio.cli.ops import params_for
from studio.ops import registry
from studio.ops.registry import Args, OpContext, OperationError, Result, operation
from studio.store import Store


class EchoArgs(Args):
    words: list[str] = Field(default_factory=list, description="words", json_schema_extra={"cli": "argument"})
    times: int = Field(default=2, ge=1, le=5, description="how often")
    loud: bool = Field(default=False, description="upper case")


class EchoResult(Result):
    text: str

    def summary(self) -> str:
        return self.text


@operation("test_echo", args=EchoArgs, result=EchoResult, help="Echo words (a test operation).", side_effects=False)
def _echo(ctx: OpContext, args: EchoArgs) -> EchoResult:
    ctx.report("echo", 1, 1)
    text = " ".join(args.words * args.times)
    return EchoResult(text=text.upper() if args.loud else text)


class OuterArgs(Args):
    pass


@operation("test_outer", args=OuterArgs, result=EchoResult, help="Runs test_echo inside itself.")
def _outer(ctx: OpContext, args: OuterArgs) -> EchoResult:
    return registry.run("test_echo", {"words": ["in"]}, ctx)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.init(tmp_path / "p")
    s.start_session("test")
    return s


def test_run_validates_records_and_reports(store: Store) -> None:
    seen: list[tuple[str, int, int | None]] = []
    ctx = OpContext(store=store, progress=lambda stage, done, total: seen.append((stage, done, total)))
    result = registry.run("test_echo", {"words": ["a", "b"], "loud": True}, ctx)
    assert result.text == "A B A B"
    assert seen == [("echo", 1, 1)]
    tools = store.events(kind="tool")
    assert [(e["key"], e["payload"]["args"]) for e in tools] == [
        ("test_echo", {"words": ["a", "b"], "times": 2, "loud": True})
    ]


def test_invalid_arguments_are_explained(store: Store) -> None:
    ctx = OpContext(store=store)
    with pytest.raises(OperationError, match=r"times: .*less than or equal to 5 \(got 9\)"):
        registry.run("test_echo", {"times": 9}, ctx)
    with pytest.raises(OperationError, match="unknown argument 'nope'"):
        registry.run("test_echo", {"nope": 1}, ctx)
    with pytest.raises(OperationError, match=r"no operation named 'missing'; known: .*dups"):
        registry.run("missing", {}, ctx)
    assert store.events(kind="tool") == []  # nothing recorded for a run that never started


def test_a_run_inside_a_run_is_recorded_once(store: Store) -> None:
    result = registry.run("test_outer", {}, OpContext(store=store))
    assert result.text == "in in"
    assert [e["key"] for e in store.events(kind="tool")] == ["test_outer"]


def test_declaring_two_operations_with_one_name_fails() -> None:
    with pytest.raises(OperationError, match="declared twice"):

        @operation("test_echo", args=EchoArgs, result=EchoResult, help="again")
        def other(ctx: OpContext, args: EchoArgs) -> EchoResult:  # pragma: no cover
            raise AssertionError


def test_cli_options_come_from_args() -> None:
    params = {p.name: p for p in params_for(EchoArgs)}
    assert isinstance(params["words"], click.Argument) and params["words"].nargs == -1
    assert params["times"].default == 2 and params["times"].help == "how often"
    assert params["loud"].opts == ["--loud"] and params["loud"].secondary_opts == ["--no-loud"]


def _op_commands() -> list[click.Command]:
    found = []
    for command in cli.commands.values():
        subs = command.commands.values() if isinstance(command, click.Group) else [command]
        found += [c for c in subs if getattr(c, "op_name", None)]
    return found


def test_every_cli_default_is_the_declared_default() -> None:
    """A default is written once, in Args: the CLI's options must show exactly that default."""
    commands = _op_commands()
    assert commands, "no CLI command is built from the registry"
    for command in commands:
        op = registry.get(command.op_name)  # type: ignore[attr-defined]
        for param in command.params:
            if param.name in (None, "as_json") or not param.expose_value:
                continue  # --json, and options that act before the run (--no-cache) are not Args
            info = op.args.model_fields[param.name]
            if info.is_required():
                continue  # no default to show (click leaves a required argument's default unset)
            declared = info.get_default(call_default_factory=True)
            shown = param.default
            if type(shown).__name__ == "Sentinel":  # click's "no default" for a variadic argument
                shown = None
            if isinstance(shown, tuple):
                shown = list(shown)
            if declared in (None, []) and shown in (None, [], ()):
                continue
            assert shown == declared, f"studio {command.name} --{param.name}: {shown!r} != {declared!r}"


def test_op_command_runs_the_operation(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    root = tmp_path / "p"
    Store.init(root).close()
    code, out, err = run_cli("--project", str(root), "dups", "--json", "-n", "0")
    assert code != 0 and "limit" in (out + err)
    code, out, err = run_cli("--project", str(root), "dups", "--json")
    assert code == 0, err
    assert '"documents": 0' in out


def _help_texts() -> dict[str, list[str]]:
    """Every option help and Args field description written as a string in the operation modules
    and the CLI modules, with where it is written."""
    import ast
    import importlib.util

    files = [Path(str(importlib.util.find_spec(m).origin)) for m in registry.OP_MODULES]
    files += sorted((Path(__file__).resolve().parent.parent / "studio" / "cli").glob("*.py"))
    found: dict[str, list[str]] = {}
    for f in dict.fromkeys(files):
        for node in ast.walk(registry.parse_python(f.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            key = {"Field": "description", "option": "help", "Option": "help"}.get(str(fn))
            for kw in node.keywords:
                if kw.arg == key and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    found.setdefault(kw.value.value, []).append(f"{f.name}:{node.lineno}")
    return found


def test_no_option_is_declared_twice() -> None:
    """An option (its help text) is written once: a second operation or command that takes the same
    option shares the declaration (a base Args class, a shared Field or click option) instead."""
    twice = {text: where for text, where in _help_texts().items() if len(where) > 1}
    assert not twice, f"declared more than once: {twice}"


def test_commands_built_for_operations_take_their_options_from_args() -> None:
    """A command built for an operation has exactly its Args as options (plus --json and options that
    act before the run, like --no-cache): none written by hand beside them."""
    for command in _op_commands():
        op = registry.get(command.op_name)  # type: ignore[attr-defined]
        options = {p.name: p for p in command.params if p.name != "as_json" and p.expose_value}
        assert set(options) == set(op.args.model_fields), f"studio {command.name}"
        for name, param in options.items():
            if isinstance(param, click.Option):
                assert param.help == (op.args.model_fields[name].description or ""), f"studio {command.name} --{name}"


def test_studio_help_imports_no_operation() -> None:
    """`studio --help` lists the operations from their source: no Args model is built and none of
    what operations need to run (numpy, httpx, Pillow) is imported."""
    import subprocess
    import sys

    code = "import sys\nfrom studio.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    code += "print(sorted(m for m in sys.modules if m in ('numpy', 'httpx', 'PIL', 'rapidfuzz', 'spacy')\n"
    code += "    or m.startswith(('studio.ops.collect.crawl', 'studio.ops.ner.label', 'studio.ops.release.build'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "Commands:" in out and "import" in out and "release" in out
    assert out.strip().splitlines()[-1] == "[]"
