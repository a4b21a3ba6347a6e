"""One contract, every backend: the file store and S3 (moto's server over real HTTP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from localplatform.embedded.procs import free_port
from shared.errors import Forbidden, InvalidObjectKey, ObjectNotFound
from shared.storage.base import ObjectStore
from shared.storage.files import FileObjectStore
from shared.storage.s3 import S3ObjectStore

Fetch = Callable[[str], Awaitable[httpx.Response]]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _file_app(store: FileObjectStore) -> Starlette:
    async def serve(request: Request) -> Response:
        try:
            key = store.verify_presigned(str(request.url))
            return Response(await store.get(key))
        except Forbidden as exc:
            return Response(exc.message, status_code=403)
        except ObjectNotFound:
            return Response("missing", status_code=404)

    return Starlette(routes=[Route("/objects/{key:path}", serve)])


@pytest.fixture(params=["file", "s3"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[ObjectStore, Fetch]]:
    if request.param == "file":
        fstore = FileObjectStore(
            tmp_path / "objects", signing_key=b"k" * 32, public_base="http://testserver/objects"
        )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_file_app(fstore)), base_url="http://testserver"
        )
        yield fstore, client.get
        await client.aclose()
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = f"b-{time.monotonic_ns()}"
    store = S3ObjectStore(
        bucket,
        "tenant-docs",
        endpoint_url=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
    )
    store.client.create_bucket(Bucket=bucket)
    client = httpx.AsyncClient()
    yield store, client.get
    await client.aclose()
    await store.close()


async def test_put_get_roundtrip_with_korean_and_binary(backend: tuple[ObjectStore, Fetch]) -> None:
    store, _ = backend
    payload = "이력서 — 쿠버네티스 운영 3년차\n".encode() + bytes(range(256))
    info = await store.put("bots/b1/docs/이력서.pdf", payload, "application/pdf")
    assert info.key == "bots/b1/docs/이력서.pdf"
    assert info.size == len(payload)
    assert await store.get("bots/b1/docs/이력서.pdf") == payload


async def test_put_overwrites(backend: tuple[ObjectStore, Fetch]) -> None:
    store, _ = backend
    await store.put("a/x", b"one")
    await store.put("a/x", b"two")
    assert await store.get("a/x") == b"two"


async def test_stream_returns_large_object_in_chunks(backend: tuple[ObjectStore, Fetch]) -> None:
    store, _ = backend
    payload = bytes(i % 251 for i in range(3 * 1024 * 1024 + 17))
    await store.put("big/blob", payload)
    chunks = [c async for c in store.stream("big/blob", chunk_size=1024 * 1024)]
    assert len(chunks) >= 4
    assert b"".join(chunks) == payload


async def test_missing_object(backend: tuple[ObjectStore, Fetch]) -> None:
    store, _ = backend
    with pytest.raises(ObjectNotFound):
        await store.get("nope/missing")
    with pytest.raises(ObjectNotFound):
        async for _ in store.stream("nope/missing"):
            pass


async def test_delete_and_delete_missing(backend: tuple[ObjectStore, Fetch]) -> None:
    store, _ = backend
    await store.put("d/one", b"1")
    await store.delete("d/one")
    await store.delete("d/one")
    with pytest.raises(ObjectNotFound):
        await store.get("d/one")
    assert await store.list_objects("d/") == []


async def test_list_by_prefix_is_sorted_and_scoped(backend: tuple[ObjectStore, Fetch]) -> None:
    store, _ = backend
    for key in ("bots/b2/z", "bots/b1/b", "bots/b1/a/c", "bots/b10/x", "other/y"):
        await store.put(key, key.encode())
    keys = [i.key for i in await store.list_objects("bots/b1/")]
    assert keys == ["bots/b1/a/c", "bots/b1/b"]
    assert [i.key for i in await store.list_objects("bots/b1")] == [
        "bots/b1/a/c",
        "bots/b1/b",
        "bots/b10/x",
    ]
    assert len(await store.list_objects()) == 5
    assert await store.delete_prefix("bots/") == 4
    assert [i.key for i in await store.list_objects()] == ["other/y"]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../etc/passwd",
        "a/../../b",
        "/abs",
        "a//b",
        "a/./b",
        "nul\x00byte",
        "back\\slash",
        "line\nbreak",
        "x" * 1025,
    ],
)
async def test_bad_keys_are_refused(backend: tuple[ObjectStore, Fetch], key: str) -> None:
    store, _ = backend
    with pytest.raises(InvalidObjectKey):
        await store.put(key, b"x")
    with pytest.raises(InvalidObjectKey):
        await store.get(key)
    assert await store.list_objects() == []


async def test_presigned_get_grants_read(backend: tuple[ObjectStore, Fetch]) -> None:
    store, fetch = backend
    await store.put("share/cv.txt", "경력 요약".encode())
    url = await store.presigned_get("share/cv.txt", expires_in=60)
    response = await fetch(url)
    assert response.status_code == 200
    assert response.content == "경력 요약".encode()


# Signature and expiry checks on S3 are the server's job (MinIO and AWS do them; moto
# does not verify signatures), so these two run on the backend whose signing is ours;
# for S3 we check that what we generate asks for them.


@pytest.fixture
async def file_backend(tmp_path: Path) -> AsyncIterator[tuple[ObjectStore, Fetch]]:
    fstore = FileObjectStore(
        tmp_path / "objects", signing_key=b"k" * 32, public_base="http://testserver/objects"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_file_app(fstore)), base_url="http://testserver"
    ) as client:
        yield fstore, client.get


async def test_presigned_get_refuses_tampering(file_backend: tuple[ObjectStore, Fetch]) -> None:
    store, fetch = file_backend
    await store.put("share/a", b"a")
    await store.put("share/b", b"secret b")
    url = await store.presigned_get("share/a", expires_in=60)
    tampered = url.replace("share/a", "share/b")
    response = await fetch(tampered)
    assert response.status_code == 403
    assert b"secret b" not in response.content


async def test_presigned_get_expires(file_backend: tuple[ObjectStore, Fetch]) -> None:
    store, fetch = file_backend
    await store.put("share/e", b"e")
    url = await store.presigned_get("share/e", expires_in=1)
    await asyncio.sleep(2.1)
    response = await fetch(url)
    assert response.status_code == 403


async def test_s3_presigned_url_is_signed_and_expiring(moto_endpoint: str) -> None:
    store = S3ObjectStore(
        "any-bucket",
        endpoint_url=moto_endpoint,
        access_key_id="testing",
        secret_access_key="testing",
    )
    url = await store.presigned_get("k/v", expires_in=90)
    query = dict(httpx.URL(url).params)
    assert query["X-Amz-Expires"] == "90"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert len(query["X-Amz-Signature"]) == 64
    with pytest.raises(ValueError, match="expires_in"):
        await store.presigned_get("k/v", expires_in=8 * 24 * 3600)


async def test_health_check(backend: tuple[ObjectStore, Fetch]) -> None:
    store, _ = backend
    await store.check()


async def test_s3_health_check_fails_for_missing_bucket(moto_endpoint: str) -> None:
    store = S3ObjectStore(
        "no-such-bucket",
        endpoint_url=moto_endpoint,
        access_key_id="testing",
        secret_access_key="testing",
    )
    with pytest.raises(Exception, match=r"404|Not Found|NoSuchBucket"):
        await store.check()
