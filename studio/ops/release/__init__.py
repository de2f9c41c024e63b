"""Release: a versioned dataset folder from human-approved labels only, and label lineage."""

from studio.ops.release.build import build_release, resolve_license
from studio.ops.release.lineage import why
from studio.ops.release.models import ExportContext, ExportReport, ReleaseOptions, ReleaseResult
from studio.ops.release.versions import existing_versions, next_version

__all__ = [
    "ExportContext",
    "ExportReport",
    "ReleaseOptions",
    "ReleaseResult",
    "build_release",
    "existing_versions",
    "next_version",
    "resolve_license",
    "why",
]
