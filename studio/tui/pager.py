"""The review pager lives in the core (`studio.ops.review`); the app imports it from here."""

from studio.ops.review import Cursor, ReviewPager, ranked_documents

__all__ = ["Cursor", "ReviewPager", "ranked_documents"]
