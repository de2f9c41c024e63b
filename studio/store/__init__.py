"""The project store: SQLite with numbered migrations and an append-only decision log."""

from studio.store.db import DatabaseTooNew, StoreLocked
from studio.store.store import DB_NAME, KIND_PREFIX, Store

__all__ = ["DB_NAME", "KIND_PREFIX", "DatabaseTooNew", "Store", "StoreLocked"]
