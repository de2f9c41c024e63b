"""`LLM`: the one seam every model call goes through.

It builds the LangChain chat model for the configured provider, and for each call: serves the
cache, bounds concurrency, retries transient failures with backoff and jitter, times out,
logs the call (redacted) to the store, and appends it to the session recording.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai
from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, ValidationError

from studio.errors import StudioError
from studio.llm import cost
from studio.llm.request import Message, content_key, request_hash, to_langchain
from studio.llm.secrets import redact, redact_obj
from studio.llm.spec import ProviderSpec, parse_spec
from studio.schema import utcnow
from studio.store import Store

log = logging.getLogger("studio.llm")
# A library's logger: silent unless the front end attaches a handler (the CLI prints to stderr).
log.addHandler(logging.NullHandler())

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

RETRYABLE = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError)
# What the client libraries raise on a 200 answer they cannot read (`choices: []`, a body that is
# not JSON, a message without content): a failed call, retried like a server error.
MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, openai.APIResponseValidationError)


class LLMError(StudioError):
    """A model call failed for good (after retries), in words."""


class StructuredOutputError(LLMError):
    """The model did not produce valid structured output within the allowed retries."""


@dataclass
class LLMResult:
    text: str
    model: str
    call_id: int | None = None
    cache_hit: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float = 0.0
    request_hash: str = ""
    finish_reason: str | None = None  # "stop", or "length" when the answer was cut off


@dataclass
class Request:
    messages: list[Message]
    operation: str = ""
    schema: dict[str, Any] | None = None
    schema_name: str = "answer"
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Raises ValueError when an answer is not usable; only usable answers are cached. Default:
    # with a schema, the answer must be JSON (an object with the schema's required keys).
    validate: Callable[[str], Any] | None = None

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.seed is not None:
            p["seed"] = self.seed
        if self.schema is not None:
            p["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": self.schema_name, "schema": self.schema, "strict": False},
            }
        p.update(self.extra)
        return p


def build_chat_model(spec: ProviderSpec, timeout: float) -> BaseChatModel:
    """A LangChain chat model for the provider. Local starts the embedded server."""
    import os

    from langchain_openai import ChatOpenAI

    if spec.kind == "replay":
        from studio.llm.replay import ReplayChatModel

        assert spec.path is not None
        return ReplayChatModel.from_file(spec.path)
    if spec.kind == "openai":
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            raise LLMError("OPENAI_API_KEY is not set: export it, or use --llm local for the embedded model")
        return ChatOpenAI(model=spec.model, api_key=key, max_retries=0, timeout=timeout)  # type: ignore[arg-type]
    if spec.kind == "openai-compatible":
        key = os.environ.get("STUDIO_LLM_API_KEY") or "not-needed"
        return ChatOpenAI(model=spec.model, base_url=spec.base_url, api_key=key, max_retries=0, timeout=timeout)  # type: ignore[arg-type]
    from studio.llm.local import shared_server
    from studio.llm.models import check_gguf, ensure_model

    path = check_gguf(spec.path) if spec.path else ensure_model(spec.model)
    server = shared_server(path)
    return ChatOpenAI(model="local", base_url=server.base_url, api_key="not-needed", max_retries=0, timeout=timeout)  # type: ignore[arg-type]


class LLM:
    def __init__(
        self,
        store: Store | None,
        spec: ProviderSpec,
        *,
        concurrency: int = 4,
        timeout: float = 180.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        use_cache: bool = True,
        chat_model: BaseChatModel | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.spec = spec
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.use_cache = use_cache
        self._chat_model = chat_model
        # Told about timeouts and retries as they happen (the CLI prints them on stderr), and
        # every `heartbeat` seconds while calls are running, so a long wait is never silent.
        self.on_notice = on_notice
        self.heartbeat = float(os.environ.get("STUDIO_LLM_HEARTBEAT", "30"))
        self._inflight: dict[int, tuple[str, float]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._sems: dict[int, asyncio.Semaphore] = {}

    @property
    def model_name(self) -> str:
        return self.spec.model

    @property
    def chat_model(self) -> BaseChatModel:
        """Built on first use, so commands that never call a model never start a server."""
        if self._chat_model is None:
            self._chat_model = build_chat_model(self.spec, self.timeout)
        return self._chat_model

    def _sem(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._sems.get(id(loop))
        if sem is None:
            sem = self._sems[id(loop)] = asyncio.Semaphore(self.concurrency)
        return sem

    # -- one call ----------------------------------------------------------------------------
    async def acall(self, req: Request, use_cache: bool = True) -> LLMResult:
        params = req.params()
        rhash = request_hash(self.model_name, req.messages, params)
        if use_cache and self.use_cache and self.store is not None:
            cached = self._cache_get(rhash)
            if cached is not None:
                result = LLMResult(
                    finish_reason=cached.get("finish_reason"),
                    text=cached["text"],
                    model=self.model_name,
                    cache_hit=True,
                    prompt_tokens=cached.get("prompt_tokens"),
                    completion_tokens=cached.get("completion_tokens"),
                    request_hash=rhash,
                )
                result.call_id = self._log(req, params, rhash, result, None)
                return result
        async with self._sem():
            t0 = time.perf_counter()
            key = id(req)
            self._inflight[key] = (req.operation or "a call", t0)
            self._start_ticker()
            try:
                message = await self._with_retries(req, params)
            except LLMError as exc:
                self._log(req, params, rhash, None, str(exc))
                raise
            finally:
                self._inflight.pop(key, None)
        usage = getattr(message, "usage_metadata", None) or {}
        meta = getattr(message, "response_metadata", None) or {}
        result = LLMResult(
            finish_reason=meta.get("finish_reason"),
            # Model text is redacted before anyone sees it, so a key the server echoes cannot
            # reach a proposal, a guideline or a document.
            text=redact(str(message.content or "")),
            # a replayed answer names the model that really wrote it
            model=(meta.get("model_name") if self.spec.kind == "replay" else None) or self.model_name,
            prompt_tokens=usage.get("input_tokens"),
            completion_tokens=usage.get("output_tokens"),
            latency_ms=(time.perf_counter() - t0) * 1000,
            request_hash=rhash,
        )
        if self.store is not None and _usable(req, result):  # written even when not read (--no-cache refreshes)
            self._cache_put(rhash, result)
        result.call_id = self._log(req, params, rhash, result, None)
        return result

    def call(self, req: Request) -> LLMResult:
        return _run(self.acall(req))

    async def _with_retries(self, req: Request, params: dict[str, Any]) -> Any:
        model = self.chat_model.bind(**params)
        lc_messages = to_langchain(req.messages)
        attempt = 0
        while True:
            try:
                return await asyncio.wait_for(model.ainvoke(lc_messages), timeout=self.timeout)
            except openai.LengthFinishReasonError as exc:
                # The structured-output path refuses a cut-off answer; keep it: the caller decides.
                return _cut_off_message(exc)
            except openai.AuthenticationError as exc:
                raise LLMError(
                    f"the {self.spec.kind} provider refused the API key (401): check the key in your environment"
                ) from exc
            except (TimeoutError, *RETRYABLE, *MALFORMED) as exc:
                attempt += 1
                what = _describe(exc)
                if isinstance(exc, (TimeoutError, openai.APITimeoutError)):
                    what = f"no answer within the {self.timeout:g} s timeout (a partial answer is lost)"
                if attempt > self.max_retries:
                    raise LLMError(
                        f"the model call failed after {attempt} attempts ({what}); "
                        "check that the model server is reachable and speaks the OpenAI protocol, or try again later"
                    ) from exc
                delay = self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random())  # jitter spreads retries
                self._notice(
                    f"model call {req.operation or ''}: {what}; retry {attempt} of {self.max_retries} in {delay:.1f} s"
                )
                await asyncio.sleep(delay)
            except openai.APIStatusError as exc:
                raise LLMError(f"the model server answered {exc.status_code}: {redact(str(exc))[:300]}") from exc

    # -- many calls --------------------------------------------------------------------------
    async def abatch(
        self, reqs: Sequence[Request], on_done: Callable[[int, LLMResult | Exception], None] | None = None
    ) -> list[LLMResult | Exception]:
        """Run requests concurrently (bounded by `concurrency`); failures are returned, not raised."""

        async def one(i: int, r: Request) -> LLMResult | Exception:
            try:
                res: LLMResult | Exception = await self.acall(r)
            except LLMError as exc:
                res = exc
            if on_done:
                on_done(i, res)
            return res

        return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(reqs))))

    def batch(
        self, reqs: Sequence[Request], on_done: Callable[[int, LLMResult | Exception], None] | None = None
    ) -> list[LLMResult | Exception]:
        return _run(self.abatch(reqs, on_done))

    # -- structured output with validation feedback ------------------------------------------
    async def astructured(
        self,
        req: Request,
        parse: Callable[[str], T],
        retries: int = 2,
    ) -> tuple[T, list[LLMResult]]:
        """Call until `parse(text)` succeeds; each failure is fed back to the model, then retried.

        `parse` raises ValueError (pydantic's ValidationError is one) on invalid output.
        """
        results: list[LLMResult] = []
        messages = list(req.messages)
        max_tokens = req.max_tokens
        last_error = ""
        for _ in range(retries + 1):
            attempt = Request(**{**req.__dict__, "messages": messages, "max_tokens": max_tokens, "validate": parse})
            res = await self.acall(attempt)
            if res.cache_hit and not _usable(attempt, res):
                # cached by an older Studio before answers were validated: drop it and ask again
                self._cache_drop(res.request_hash)
                res = await self.acall(attempt, use_cache=False)
            results.append(res)
            try:
                return parse(res.text), results
            except (ValueError, ValidationError) as exc:
                last_error = _short_error(exc)
                if res.finish_reason == "length":
                    # Cut off, not wrong: ask the same question with room for a whole answer.
                    last_error = f"the answer was cut off at {max_tokens} tokens"
                    max_tokens *= 2
                    continue
                messages = [
                    *req.messages,
                    {"role": "assistant", "content": res.text},
                    {
                        "role": "user",
                        "content": "Your answer was not valid: "
                        + last_error
                        + "\nAnswer again with only JSON that matches the schema.",
                    },
                ]
        raise StructuredOutputError(
            f"the model did not give a valid answer for {req.operation or 'this request'} after {retries + 1} tries "
            f"(last problem: {last_error}); try again, edit the input, or use a stronger model with --llm"
        )

    def structured(self, req: Request, parse: Callable[[str], T], retries: int = 2) -> tuple[T, list[LLMResult]]:
        return _run(self.astructured(req, parse, retries))

    def structured_model(self, req: Request, model_cls: type[M], retries: int = 2) -> tuple[M, list[LLMResult]]:
        req.schema = req.schema or model_cls.model_json_schema()
        req.schema_name = req.schema_name if req.schema_name != "answer" else model_cls.__name__
        return self.structured(req, lambda text: model_cls.model_validate_json(strip_fences(text)), retries)

    # -- store ---------------------------------------------------------------------------------
    def _cache_get(self, rhash: str) -> dict[str, Any] | None:
        assert self.store is not None
        row = self.store.conn.execute("SELECT response FROM llm_cache WHERE request_hash = ?", (rhash,)).fetchone()
        return json.loads(row[0]) if row else None

    def _cache_drop(self, rhash: str) -> None:
        assert self.store is not None
        with self.store.transaction() as c:
            c.execute("DELETE FROM llm_cache WHERE request_hash = ?", (rhash,))

    def _cache_put(self, rhash: str, result: LLMResult) -> None:
        assert self.store is not None
        body = {
            "text": redact(result.text),
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "finish_reason": result.finish_reason,
        }
        with self.store.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO llm_cache (request_hash, model, response, created_at) VALUES (?, ?, ?, ?)",
                (rhash, self.model_name, json.dumps(body, ensure_ascii=False), utcnow()),
            )

    def _start_ticker(self) -> None:
        if self.heartbeat > 0 and (self._ticker is None or self._ticker.done()):
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        """While calls run, say so every `heartbeat` seconds (one line for all of them)."""
        while self._inflight:
            await asyncio.sleep(self.heartbeat)
            if not self._inflight:
                return
            op, t0 = min(self._inflight.values(), key=lambda v: v[1])
            waited = time.perf_counter() - t0
            n = len(self._inflight)
            calls = f"{n} calls running, the oldest" if n > 1 else "1 call running"
            self._notice(
                f"waiting for the model ({self.spec.describe()}): {calls} for {waited:.0f} s ({op}); "
                f"timeout {self.timeout:g} s"
            )

    def _notice(self, message: str) -> None:
        if self.on_notice is not None:
            self.on_notice(message)
        else:
            log.warning(message)

    def _log(
        self, req: Request, params: dict[str, Any], rhash: str, result: LLMResult | None, error: str | None
    ) -> int | None:
        if self.store is None:
            return None
        messages = redact_obj(req.messages)
        params_r = redact_obj(params)
        text = redact(result.text) if result else None
        # A replayed answer names the model that wrote it, so a session re-exported from a replay
        # still says which model made its answers.
        model = (result.model if result else None) or self.model_name
        usd = (
            cost.estimate(self.spec.kind, self.model_name, result.prompt_tokens, result.completion_tokens)
            if result and not result.cache_hit
            else 0.0
        )
        with self.store.transaction() as c:
            cur = c.execute(
                "INSERT INTO llm_calls (ts, session_id, provider, model, operation, request_hash, messages, params, response,"
                " prompt_tokens, completion_tokens, latency_ms, cost_usd, cache_hit, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    utcnow(), self.store.session_id, self.spec.kind, model, req.operation, rhash,
                    json.dumps(messages, ensure_ascii=False), json.dumps(params_r, ensure_ascii=False, sort_keys=True), text,
                    result.prompt_tokens if result else None, result.completion_tokens if result else None,
                    round(result.latency_ms, 1) if result else None, usd, int(bool(result and result.cache_hit)),
                    redact(error) if error else None,
                ),
            )  # fmt: skip
            call_id = int(cur.lastrowid or 0)
            if self.store.session_id:
                self.store.add_event(
                    "llm",
                    content_key(req.messages, params),
                    {
                        "call_id": call_id, "operation": req.operation, "model": model, "provider": self.spec.kind,
                        "content_key": content_key(req.messages, params), "messages": messages, "params": params_r,
                        "response": text, "finish_reason": result.finish_reason if result else None,
                        "error": redact(error) if error else None, "cache_hit": bool(result and result.cache_hit),
                        "usage": {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens} if result else {},
                    },
                )  # fmt: skip
        return call_id


CACHE_ENV = "STUDIO_LLM_CACHE"

# A small model on 2 CPU cores can take minutes for a long answer; hosted models answer in seconds.
DEFAULT_TIMEOUT_S = {"local": 900.0, "openai": 120.0, "openai-compatible": 300.0, "replay": 30.0}


def _cut_off_message(exc: openai.LengthFinishReasonError) -> Any:
    from langchain_core.messages import AIMessage

    completion = exc.completion
    usage = completion.usage
    text = completion.choices[0].message.content or "" if completion.choices else ""
    return AIMessage(
        content=text,
        response_metadata={"finish_reason": "length"},
        usage_metadata={
            "input_tokens": usage.prompt_tokens if usage else 0,
            "output_tokens": usage.completion_tokens if usage else 0,
            "total_tokens": usage.total_tokens if usage else 0,
        },
    )


def open_llm(store: Store | None, spec: str | ProviderSpec | None = None, **kwargs: Any) -> LLM:
    """The LLM for a project: flag/env spec first, then the project's `llm` setting, then the default."""
    if not isinstance(spec, ProviderSpec):
        setting = store.get_setting("llm") if store is not None else None
        spec = parse_spec(spec, setting)
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT_S[spec.kind])
    # STUDIO_LLM_CACHE=off (what --no-cache sets): ask the model again; usable answers still refresh the cache.
    kwargs.setdefault("use_cache", os.environ.get(CACHE_ENV, "on").lower() not in ("off", "0", "no", "false"))
    return LLM(store, spec, **kwargs)


def strip_fences(text: str) -> str:
    """Remove a ```json fence around an answer (a safe repair: nothing inside changes)."""
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else t[3:]
        if t.rstrip().endswith("```"):
            t = t.rstrip()[:-3]
    return t.strip()


def _usable(req: Request, result: LLMResult) -> bool:
    """Worth caching: a whole answer that passes the request's validation."""
    if result.finish_reason == "length" or not result.text.strip():
        return False
    check = req.validate or (_json_answer(req.schema) if req.schema is not None else None)
    if check is None:
        return True
    try:
        check(result.text)
    except Exception:  # whatever the caller's parser raises means "not usable"
        return False
    return True


def _json_answer(schema: dict[str, Any]) -> Callable[[str], Any]:
    def check(text: str) -> Any:
        value = json.loads(strip_fences(text))
        if schema.get("type") == "object":
            if not isinstance(value, dict):
                raise ValueError(f"expected a JSON object, got {type(value).__name__}")
            missing = [k for k in schema.get("required", []) if k not in value]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
        return value

    return check


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()[:5]]
        return "; ".join(parts)
    return str(exc)[:400]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, MALFORMED):
        return redact(f"the server answered 200 with a malformed body ({type(exc).__name__}: {exc})")[:300]
    return redact(type(exc).__name__ + (f": {exc}" if str(exc) else ""))[:200]


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    """One event loop in a daemon thread for all sync callers: HTTP clients bound to a loop
    (as LangChain's async OpenAI client is) keep working across calls."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="studio-llm-loop", daemon=True).start()
        return _loop


def _run(coro: Any) -> Any:
    """Run a coroutine from sync code (CLI, TUI worker threads)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run_coroutine_threadsafe(coro, _background_loop()).result()
    coro.close()
    raise RuntimeError("use the async method (acall/abatch/astructured) inside a running event loop")
