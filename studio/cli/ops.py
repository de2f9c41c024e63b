"""CLI commands built from operation declarations (`studio.ops.registry`).

Each option is the `Args` field of the same name: its type, default, help text and validation
come from the declaration, so nothing is restated here. `--json` prints the `Result`; otherwise
the result's `summary()` (or a custom `render`) is printed. Long runs draw a progress bar on a
terminal and print progress lines otherwise.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click
from pydantic.fields import FieldInfo

from studio.cli.common import Ctx, emit_json, pass_ctx, stage_progress
from studio.ops import registry
from studio.ops.registry import OpContext

Render = Callable[[Any, Ctx], None]  # (the operation's Result, the CLI context)
Before = Callable[[Ctx, dict[str, Any]], None]
ToJson = Callable[[Any], Any]
Adjust = Callable[[list[click.Parameter]], None]


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _click_type(tp: Any) -> tuple[Any, bool]:
    """(click type, multiple) for an annotation."""
    origin = typing.get_origin(tp)
    if origin in (list, tuple, set, frozenset):
        inner = typing.get_args(tp)[0] if typing.get_args(tp) else str
        return _click_type(inner)[0], True
    if origin is Literal:
        return click.Choice([str(v) for v in typing.get_args(tp)]), False
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return click.Choice([str(m.value) for m in tp]), False
    if tp is bool:
        return click.BOOL, False
    if tp is int:
        return click.INT, False
    if tp is float:
        return click.FLOAT, False
    return click.STRING, False


def params_for(args_model: type[registry.Args]) -> list[click.Parameter]:
    """Click parameters for every field of an Args model, in declaration order."""
    params: list[click.Parameter] = []
    for name, info in args_model.model_fields.items():
        extra = _extra(info)
        tp, _optional = _unwrap_optional(info.annotation)
        ctype, multiple = _click_type(tp)
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        help_text = info.description or ""
        metavar = extra.get("metavar")
        if extra.get("cli") == "argument":
            params.append(
                click.Argument([name], type=ctype, nargs=-1 if multiple else 1, required=required, metavar=metavar)
            )
            continue
        flag = "--" + name.replace("_", "-")
        decls = [flag] + ([extra["short"]] if extra.get("short") else [])
        if tp is bool:
            decls = [f"{flag}/--no-{name.replace('_', '-')}"] + ([extra["short"]] if extra.get("short") else [])
            params.append(click.Option([*decls, name], default=bool(default), show_default=True, help=help_text))
            continue
        if multiple:
            default = tuple(default or ())
        params.append(
            click.Option(
                [*decls, name], type=ctype, multiple=multiple, required=required, default=default,
                show_default=default not in (None, (), ""), help=help_text, metavar=metavar,
            )
        )  # fmt: skip
    return params


def _cli_values(args_model: type[registry.Args], values: dict[str, Any], c: Ctx) -> dict[str, Any]:
    """Click values -> Args data: unset options fall back to the model's default; paths are
    resolved from the current folder and kept relative to the project when inside it."""
    data: dict[str, Any] = {}
    for name, info in args_model.model_fields.items():
        value = values.get(name)
        if isinstance(value, tuple):
            value = list(value)
        if value is None and not info.is_required():
            continue
        if _extra(info).get("path") and value is not None:
            value = (
                [_project_path(v, c.project) for v in value]
                if isinstance(value, list)
                else _project_path(value, c.project)
            )
        data[name] = value
    return data


def _project_path(p: str, project: Path) -> str:
    if "://" in p:
        return p
    full = Path(p).expanduser().resolve()
    try:
        return str(full.relative_to(project))
    except ValueError:
        return str(full)


class _LazyParams(list):  # type: ignore[type-arg]
    """A command's parameters, built from the declaration when first read. Appending (a decorator
    such as `no_cache_option` adding an option) does not build them; the appended ones follow."""

    def __init__(self, build: Callable[[], list[click.Parameter]], given: list[click.Parameter]) -> None:
        super().__init__(given)
        self._build: Callable[[], list[click.Parameter]] | None = build

    def _ready(self) -> None:
        if self._build is not None:
            build, self._build = self._build, None
            self[:0] = build()

    def __iter__(self) -> Any:
        self._ready()
        return super().__iter__()

    def __len__(self) -> int:
        self._ready()
        return super().__len__()

    def __getitem__(self, i: Any) -> Any:
        self._ready()
        return super().__getitem__(i)

    def pop(self, i: Any = -1) -> Any:
        self._ready()
        return super().pop(i)


class LazyCommand(click.Command):
    """A command whose options (and help) are built when first needed: `studio --help` lists it by
    name and short help without importing what its options are declared in."""

    def __init__(
        self,
        name: str,
        *,
        build_params: Callable[[], list[click.Parameter]],
        build_help: Callable[[], str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._build_params, self._build_help = build_params, build_help
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(name, **kwargs)

    @property  # type: ignore[override]
    def params(self) -> list[click.Parameter]:
        return self._params

    @params.setter
    def params(self, given: list[click.Parameter]) -> None:
        self._params = _LazyParams(self._build_params, list(given or []))

    @property  # type: ignore[override]
    def help(self) -> str | None:
        return self._build_help() if self._build_help is not None else self._help

    @help.setter
    def help(self, value: str | None) -> None:
        self._help = value


class OpCommand(LazyCommand):
    """A command built from an operation's declaration. `studio --help` lists it by name and summary
    (studio.ops.registry.index: read from the source); its options, help and the operation's
    module (with what it imports) are loaded when the command is used or its help shown."""

    def __init__(
        self, cli_name: str, op_name: str, callback: Callable[..., Any], adjust: Adjust | None, help_suffix: str
    ) -> None:
        self.op_name = op_name  # tests compare its options with Args

        def build_params() -> list[click.Parameter]:
            params = [*params_for(registry.get(op_name).args), json_flag()]
            if adjust is not None:
                adjust(params)
            return params

        super().__init__(
            cli_name, callback=callback, short_help=registry.summary(op_name), build_params=build_params,
            build_help=lambda: registry.get(op_name).help.rstrip() + help_suffix,
        )  # fmt: skip


def json_flag() -> click.Option:
    return click.Option(["--json", "as_json"], is_flag=True, help="Print JSON for machines.")


def op_command(
    name: str,
    *,
    render: Render | None = None,
    cli_name: str | None = None,
    before: Before | None = None,
    to_json: ToJson | None = None,
    adjust: Adjust | None = None,
    help_suffix: str = "",
) -> click.Command:
    """A click command for the operation `name`, built from its declaration (when it is used).

    `render` prints the result for people (default: its `summary()`), `to_json` shapes `--json`
    (default: the result as it is), `before` may ask the person for what is missing (it gets the
    option values and may fill them in) before the arguments are checked, `adjust` changes the
    built options (e.g. a friendlier click type), `help_suffix` is added to the operation's help.
    """

    @pass_ctx
    def callback(c: Ctx, as_json: bool, **values: Any) -> None:
        op = registry.get(name)
        if before is not None:
            before(c, values)
        args = op.validate(_cli_values(op.args, values, c))
        store = c.store()
        with stage_progress() as update:
            ctx = OpContext(store=store, actor=c.actor, llm_spec=c.llm, progress=_adapt(update))
            result = registry.run(op.name, args, ctx)
        if as_json:
            emit_json(to_json(result) if to_json is not None else result.model_dump(mode="json"))
        elif render is not None:
            render(result, c)
        else:
            text = result.summary()
            click.echo(text if text else "\n".join(f"{k}: {v}" for k, v in result.model_dump(mode="json").items()))

    return OpCommand(cli_name or name.replace("_", "-"), name, callback, adjust, help_suffix)


def _adapt(update: Callable[[str, int, int], None] | None) -> registry.Progress | None:
    if update is None:
        return None

    def progress(stage: str, done: int, total: int | None) -> None:
        update(stage, done, total if total is not None else 0)

    return progress
