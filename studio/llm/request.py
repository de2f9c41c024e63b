"""The canonical form of a model request, and the keys the cache and replay use."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


def canonical(messages: list[Message], params: dict[str, Any], model: str | None = None) -> str:
    body: dict[str, Any] = {"messages": messages, "params": params}
    if model is not None:
        body["model"] = model
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def request_hash(model: str, messages: list[Message], params: dict[str, Any]) -> str:
    """Cache key: the same model, messages and parameters are the same request."""
    return hashlib.sha256(canonical(messages, params, model).encode()).hexdigest()


def content_key(messages: list[Message], params: dict[str, Any]) -> str:
    """Replay key: the request without the model name, so a recording replays under any name."""
    return hashlib.sha256(canonical(messages, params).encode()).hexdigest()


def to_langchain(messages: list[Message]) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for m in messages:
        role, content = m["role"], m["content"]
        if role == "system":
            out.append(SystemMessage(content))
        elif role == "assistant":
            out.append(AIMessage(content))
        elif role == "user":
            out.append(HumanMessage(content))
        else:
            raise ValueError(f"unknown message role {role!r}")
    return out


def from_langchain(messages: list[BaseMessage]) -> list[Message]:
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return [{"role": roles.get(m.type, m.type), "content": str(m.content)} for m in messages]
