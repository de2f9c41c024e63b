"""Licenses a release can carry: SPDX ids we can name and point to (full texts are not shipped)."""

from __future__ import annotations

import re

from studio.errors import StudioError

# SPDX id -> (name, URL of the full text)
KNOWN: dict[str, tuple[str, str]] = {
    "CC0-1.0": ("Creative Commons Zero v1.0 Universal", "https://creativecommons.org/publicdomain/zero/1.0/legalcode"),
    "CC-BY-4.0": (
        "Creative Commons Attribution 4.0 International",
        "https://creativecommons.org/licenses/by/4.0/legalcode",
    ),
    "CC-BY-SA-4.0": (
        "Creative Commons Attribution Share Alike 4.0 International",
        "https://creativecommons.org/licenses/by-sa/4.0/legalcode",
    ),
    "CC-BY-NC-4.0": (
        "Creative Commons Attribution Non Commercial 4.0 International",
        "https://creativecommons.org/licenses/by-nc/4.0/legalcode",
    ),
    "CC-BY-NC-SA-4.0": (
        "Creative Commons Attribution Non Commercial Share Alike 4.0 International",
        "https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode",
    ),
    "ODC-By-1.0": ("Open Data Commons Attribution License v1.0", "https://opendatacommons.org/licenses/by/1-0/"),
    "ODbL-1.0": ("Open Data Commons Open Database License v1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
    "PDDL-1.0": (
        "Open Data Commons Public Domain Dedication & License 1.0",
        "https://opendatacommons.org/licenses/pddl/1-0/",
    ),
    "CDLA-Permissive-2.0": ("Community Data License Agreement Permissive 2.0", "https://cdla.dev/permissive-2-0/"),
    "CDLA-Sharing-1.0": ("Community Data License Agreement Sharing 1.0", "https://cdla.dev/sharing-1-0/"),
    "MIT": ("MIT License", "https://opensource.org/license/mit"),
    "Apache-2.0": ("Apache License 2.0", "https://www.apache.org/licenses/LICENSE-2.0"),
    "BSD-3-Clause": ('BSD 3-Clause "New" or "Revised" License', "https://opensource.org/license/bsd-3-clause"),
}
_BY_LOWER = {k.lower(): k for k in KNOWN}
_REF_RE = re.compile(r"LicenseRef-[A-Za-z0-9.-]{1,64}")


def normalize(spdx: str) -> str:
    """The canonical SPDX id for `spdx` (case-insensitive), or a `LicenseRef-...` custom id."""
    s = spdx.strip()
    if s.lower() in _BY_LOWER:
        return _BY_LOWER[s.lower()]
    if _REF_RE.fullmatch(s):
        return s
    raise StudioError(
        f"unknown license {spdx!r}: pass an SPDX id ({', '.join(sorted(KNOWN))}) "
        "or LicenseRef-NAME for a custom license described in the card"
    )


def hf_id(spdx: str) -> str:
    """The license id the Hugging Face hub uses in a card header."""
    return spdx.lower() if spdx in KNOWN else "other"


def license_text(spdx: str, goal: str) -> str:
    if spdx in KNOWN:
        name, url = KNOWN[spdx]
        return (
            f"SPDX-License-Identifier: {spdx}\n\n"
            f"This dataset ({goal.strip().splitlines()[0] if goal.strip() else 'a Studio release'}) is made available "
            f"under the {name}.\n"
            f"The full text of the license is at {url}\n\n"
            "The licenses of the source documents still apply to their text; see the provenance section of README.md.\n"
        )
    return (
        f"SPDX-License-Identifier: {spdx}\n\n"
        "This dataset is made available under a custom license; its terms are described in README.md.\n"
        "The licenses of the source documents still apply to their text; see the provenance section of README.md.\n"
    )
