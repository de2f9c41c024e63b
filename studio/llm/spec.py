"""Which model to talk to: parsed from a flag, the environment or a project setting.

local                         the embedded model (default when no OPENAI_API_KEY is set)
local:/path/to/model.gguf     the embedded runtime with a GGUF file of your own
openai:gpt-4o-mini            OpenAI (needs OPENAI_API_KEY)
http://127.0.0.1:11434/v1#qwen2.5   any OpenAI-compatible server (Ollama, vLLM, llama.cpp);
                              key from STUDIO_LLM_API_KEY if the server needs one
replay:fixtures/sessions/x.jsonl    serve the responses recorded in a session
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from studio.errors import StudioError

ProviderKind = Literal["local", "openai", "openai-compatible", "replay"]
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class ProviderSpec:
    kind: ProviderKind
    model: str
    base_url: str | None = None
    path: Path | None = None  # a GGUF file (local) or a recording (replay)

    def describe(self) -> str:
        if self.kind == "openai-compatible":
            return f"{self.base_url}#{self.model}"
        if self.kind == "replay":
            return f"replay:{self.path}"
        return f"{self.kind}:{self.model}"


def parse_spec(text: str | None, setting: str | None = None) -> ProviderSpec:
    """Flag or $STUDIO_LLM first, then the project setting, then the default."""
    raw = (text or setting or "").strip()
    if not raw:
        raw = "openai" if os.environ.get("OPENAI_API_KEY") else "local"
    if raw == "local":
        from studio.llm.models import DEFAULT_MODEL

        return ProviderSpec("local", DEFAULT_MODEL)
    if raw.startswith("local:"):
        path = Path(raw[len("local:") :]).expanduser()
        if path.suffix.lower() == ".gguf" or path.exists():
            return ProviderSpec("local", path.stem, path=path.resolve())
        return ProviderSpec("local", raw[len("local:") :])
    if raw == "openai" or raw.startswith("openai:"):
        model = raw.partition(":")[2] or DEFAULT_OPENAI_MODEL
        return ProviderSpec("openai", model)
    if raw.startswith(("http://", "https://")):
        url, _, model = raw.partition("#")
        if not model:
            raise StudioError(f"say which model the server at {url} should use: {url}#MODEL_NAME")
        return ProviderSpec("openai-compatible", model, base_url=url.rstrip("/"))
    if raw.startswith("replay:"):
        path = Path(raw[len("replay:") :]).expanduser()
        if not path.is_file():
            raise StudioError(f"no recorded session at {path}")
        return ProviderSpec("replay", "replay", path=path.resolve())
    raise StudioError(
        f"unknown model {raw!r}: use local, local:PATH.gguf, openai:MODEL, http://HOST:PORT/v1#MODEL or replay:SESSION.jsonl"
    )
