"""Pick the object-store backend from ``OBJECT_STORE_URL``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.secrets import SecretStore
from shared.settings import Settings
from shared.storage.base import ObjectStore


def open_object_store(settings: Settings, secrets: SecretStore | None = None) -> ObjectStore:
    parts = urlsplit(settings.object_store)
    if parts.scheme == "s3":
        from shared.storage.s3 import S3ObjectStore

        return S3ObjectStore(
            parts.netloc,
            parts.path,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            addressing_style=settings.s3_addressing_style,
        )
    from shared.storage.files import FileObjectStore

    store = secrets or SecretStore(settings.secrets_path, create=False)
    return FileObjectStore(
        Path(unquote(parts.path)),
        signing_key=store.get_bytes("object-store-signing-key"),
        public_base=settings.object_store_public_url or f"{settings.public_base_url}/objects",
    )
