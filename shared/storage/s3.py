"""S3 backend (MinIO or any S3 endpoint) over boto3, run in worker threads.

boto3 is imported on first use only: it costs ~0.3 s and most functions never touch it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from shared.errors import ObjectNotFound
from shared.storage.base import CHUNK_SIZE, ObjectInfo, ObjectStore, check_key, check_prefix

MAX_EXPIRY = 7 * 24 * 3600


class S3ObjectStore(ObjectStore):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: str = "path",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._config = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
        }
        self._addressing_style = addressing_style
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.session.Session().client(
                "s3",
                config=Config(
                    signature_version="s3v4",
                    s3={"addressing_style": self._addressing_style},
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=3,
                    read_timeout=30,
                ),
                **self._config,
            )
        return self._client

    def _full(self, key: str) -> str:
        return self.prefix + check_key(key)

    @staticmethod
    def _missing(exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("NoSuchKey", "404", "NotFound")

    async def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
    ) -> ObjectInfo:
        full = self._full(key)

        def _put() -> ObjectInfo:
            self.client.put_object(
                Bucket=self.bucket, Key=full, Body=data, ContentType=content_type
            )
            head = self.client.head_object(Bucket=self.bucket, Key=full)
            return ObjectInfo(key, int(head["ContentLength"]), head["LastModified"])

        return await asyncio.to_thread(_put)

    async def _get_object(self, key: str) -> Any:
        full = self._full(key)
        try:
            return await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=full)
        except Exception as exc:
            if self._missing(exc):
                raise ObjectNotFound(f"object {key!r} not found") from None
            raise

    async def get(self, key: str) -> bytes:
        response = await self._get_object(key)
        body = response["Body"]
        try:
            data: bytes = await asyncio.to_thread(body.read)
        finally:
            body.close()
        return data

    async def stream(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        response = await self._get_object(key)
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_size):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        full = self._full(key)
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=full)

    async def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        full_prefix = self.prefix + check_prefix(prefix)

        def _list() -> list[ObjectInfo]:
            out: list[ObjectInfo] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) :]
                    out.append(ObjectInfo(key, int(item["Size"]), item["LastModified"]))
            return sorted(out, key=lambda info: info.key)

        return await asyncio.to_thread(_list)

    async def presigned_get(self, key: str, expires_in: int = 300) -> str:
        if not 1 <= expires_in <= MAX_EXPIRY:
            raise ValueError("expires_in must be between 1 second and 7 days")
        full = self._full(key)
        url: str = await asyncio.to_thread(
            self.client.generate_presigned_url,
            "get_object",
            Params={"Bucket": self.bucket, "Key": full},
            ExpiresIn=expires_in,
        )
        return url

    async def check(self) -> None:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
