"""Keep secrets off disk: everything the seam writes or raises passes through `redact`."""

from __future__ import annotations

import os
import re
from typing import Any

# Environment variables whose values are secrets wherever they appear.
SECRET_ENV = ("OPENAI_API_KEY", "STUDIO_LLM_API_KEY", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY")
_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(r"(?i)(\"?(?:api[_-]?key|authorization|x-api-key)\"?\s*[:=]\s*\"?)[^\s\",}]{6,}"),
]
MASK = "[REDACTED]"


def redact(text: str) -> str:
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 6:
            text = text.replace(value, MASK)
    for pat in _PATTERNS:
        text = pat.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


def redact_obj(obj: Any) -> Any:
    """Redact every string inside a JSON-like object; drop auth headers outright."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {
            k: (
                MASK
                if k.lower() in ("authorization", "api_key", "x-api-key", "cookie", "set-cookie")
                else redact_obj(v)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj
