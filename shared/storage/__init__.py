"""Object store: one interface, two backends (local files and S3/MinIO)."""

from shared.storage.base import ObjectInfo, ObjectStore, check_key
from shared.storage.factory import open_object_store

__all__ = ["ObjectInfo", "ObjectStore", "check_key", "open_object_store"]
