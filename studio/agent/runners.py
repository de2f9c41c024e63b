"""How each agent tool runs: thin adapters from validated arguments to one operation."""

from __future__ import annotations
