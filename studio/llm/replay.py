"""The replay provider: a LangChain chat model that answers from a recorded session.

Requests are matched by `content_key` (messages and parameters). In strict mode a request that
is not in the recording raises `ReplayMiss`, showing the closest recorded request and a diff.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from studio.errors import ReplayMiss
from studio.llm.request import canonical, content_key, from_langchain

__all__ = ["ReplayChatModel", "ReplayMiss"]


class ReplayChatModel(BaseChatModel):
    """Serves recorded responses by request; never touches the network."""

    responses: dict[str, dict[str, Any]] = Field(default_factory=dict)
    requests: dict[str, str] = Field(default_factory=dict)  # key -> canonical request, for diffs
    strict: bool = True
    source: str = ""

    @classmethod
    def from_file(cls, path: Path, strict: bool = True) -> ReplayChatModel:
        responses: dict[str, dict[str, Any]] = {}
        requests: dict[str, str] = {}
        from studio.llm.session import load_recording

        for ev in load_recording(path):
            if ev.get("type") != "llm" or ev.get("error"):
                continue
            key = ev["content_key"]
            responses.setdefault(
                key,
                {
                    "response": ev["response"],
                    "usage": ev.get("usage") or {},
                    "model": ev.get("model"),
                    "finish_reason": ev.get("finish_reason"),
                },
            )
            requests.setdefault(key, canonical(ev["messages"], ev["params"]))
        return cls(responses=responses, requests=requests, strict=strict, source=str(path))

    @property
    def _llm_type(self) -> str:
        return "studio-replay"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        msgs = from_langchain(messages)
        key = content_key(msgs, kwargs)
        hit = self.responses.get(key)
        if hit is None:
            raise ReplayMiss(self._miss_report(canonical(msgs, kwargs)))
        usage = hit["usage"]
        message = AIMessage(
            content=hit["response"],
            response_metadata={
                "model_name": hit.get("model") or "replay",
                "token_usage": usage,
                "finish_reason": hit.get("finish_reason"),
            },
            usage_metadata={
                "input_tokens": int(usage.get("prompt_tokens") or 0),
                "output_tokens": int(usage.get("completion_tokens") or 0),
                "total_tokens": int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _miss_report(self, wanted: str) -> str:
        head = f"the recording {self.source} has no response for this request"
        if not self.requests:
            return head + " (it holds no LLM calls)"
        best = max(
            self.requests.values(), key=lambda r: difflib.SequenceMatcher(None, r, wanted, autojunk=False).quick_ratio()
        )
        a = json.dumps(json.loads(best), ensure_ascii=False, indent=1, sort_keys=True).splitlines()
        b = json.dumps(json.loads(wanted), ensure_ascii=False, indent=1, sort_keys=True).splitlines()
        diff = "\n".join(
            list(difflib.unified_diff(a, b, "closest recorded request", "this request", lineterm="", n=1))[:40]
        )
        return f"{head}; re-record the session if prompts changed. Closest recorded request, as a diff:\n{diff}"
