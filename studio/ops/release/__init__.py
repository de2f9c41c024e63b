"""Release: a versioned dataset folder from human-approved labels only, and label lineage."""

from __future__ import annotations

from studio.lazy import exports

_NAMES = {
    "ExportContext": "models",
    "ExportReport": "models",
    "ReleaseOptions": "models",
    "ReleaseResult": "models",
    "build_release": "build",
    "existing_versions": "versions",
    "next_version": "versions",
    "resolve_license": "build",
    "why": "lineage",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = exports(__name__, _NAMES)
