"""The offline model through the ``embedder`` service: an HTTP client, no torch here.

Wire protocol (the embedder function, ``functions/embedder/main.py``)::

    POST {EMBEDDER_URL}/embed   {"texts": ["...", ...], "task": "document" | "query"}
    200 {"model": "all-MiniLM-L6-v2", "dimensions": 384, "vectors": [[...], ...]}
    400 {"error": {"code": "invalid_texts", "message": "..."}}

Batches of at most 64 texts, cut from the texts sorted by length (less padding), go one
after another (the service runs one forward pass at a time; sending more at once only
queues them there); the vectors come back in the order of the texts. Connection
failures and 502/503/504 are retried briefly (the service may be restarting), then
``ServiceUnavailable``; a 400 (a text the service refuses) is ``BadRequest``. A response
from another model or of another size is refused: vectors of different models are never
mixed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from shared.embeddings import EmbeddingProvider, Task
from shared.errors import BadRequest, ServiceUnavailable, SettingsError

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("protostar.embeddings.local")

#: Models the embedder can serve offline, and their sizes.
KNOWN_MODELS = {"all-MiniLM-L6-v2": 384}
BATCH_SIZE = 64
_RETRY_STATUSES = (502, 503, 504)


class _Transient(Exception):
    """The embedder could not be reached, or said it is not ready: worth another try."""


class LocalEmbedder(EmbeddingProvider):
    """``EmbeddingProvider`` backed by the ``embedder`` function over HTTP."""

    def __init__(
        self,
        base_url: str | None,
        *,
        model: str = "all-MiniLM-L6-v2",
        batch_size: int = BATCH_SIZE,
        timeout: float = 120.0,
        connect_timeout: float = 3.0,
        attempts: int = 3,
        backoff: float = 0.25,
    ) -> None:
        if model not in KNOWN_MODELS:
            known = ", ".join(KNOWN_MODELS)
            raise SettingsError(f"LOCAL_EMBEDDING_MODEL: {model!r} is not served (known: {known})")
        if not 1 <= batch_size <= BATCH_SIZE:
            raise ValueError(f"batch_size must be 1..{BATCH_SIZE}")
        self.base_url = base_url.rstrip("/") if base_url else None
        self.model = model
        self.name = f"local:{model}"
        self.dimensions = KNOWN_MODELS[model]
        self.batch_size = batch_size
        # The first request after a (re)start also loads the model: several seconds.
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"LocalEmbedder({self.name!r}, url={self.base_url!r})"

    async def embed(self, texts: Sequence[str], *, task: Task = "document") -> list[list[float]]:
        texts = list(texts)
        if task not in ("document", "query"):
            raise ValueError(f"task must be 'document' or 'query', not {task!r}")
        if not texts:
            return []
        if not self.base_url:
            raise ServiceUnavailable(
                "EMBEDDER_URL is not set: the local embedding model is served by the"
                " embedder service (task up sets it)",
                code="embedder_unavailable",
            )
        # Batches of similar lengths pad less (sentence-transformers pads a forward pass
        # to its longest text): cut them from the texts sorted by length, answer in order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            answered = await self._batch([texts[i] for i in batch], task)
            for i, vector in zip(batch, answered, strict=True):
                vectors[i] = vector
        return vectors

    async def _batch(self, texts: list[str], task: Task) -> list[list[float]]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff, max=2.0),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._post(texts, task)
        except _Transient as exc:
            raise ServiceUnavailable(
                f"the embedder at {self.base_url} is unavailable ({exc})",
                code="embedder_unavailable",
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, texts: list[str], task: Task) -> list[list[float]]:
        import aiohttp

        body = json.dumps({"texts": texts, "task": task}, ensure_ascii=False).encode()
        session = await self._client()
        try:
            async with session.post(
                f"{self.base_url}/embed",
                data=body,
                headers={"Content-Type": "application/json"},
            ) as response:
                status = response.status
                payload = await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise _Transient("connect timeout") from exc
        except TimeoutError:
            # Not retried: the same batch would only queue behind the one still running.
            raise ServiceUnavailable(
                f"the embedder at {self.base_url} did not answer within {self._timeout:g} s",
                code="embedder_timeout",
            ) from None
        except (aiohttp.ClientConnectionError, ConnectionError) as exc:
            # A refused connection, or a server that closed it mid-request (restarting).
            raise _Transient(exc.__class__.__name__) from exc
        if status in _RETRY_STATUSES:
            raise _Transient(f"HTTP {status}")
        data = _json(payload)
        if 400 <= status < 500:
            error = data.get("error") if isinstance(data, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            raise BadRequest(
                f"the embedder refused the texts: {message or f'HTTP {status}'}",
                code="embedding_rejected",
            )
        if status != 200:
            raise ServiceUnavailable(
                f"the embedder at {self.base_url} failed (HTTP {status})",
                code="embedder_unavailable",
            )
        return self._vectors(data, len(texts))

    def _vectors(self, data: Any, count: int) -> list[list[float]]:
        if not isinstance(data, dict) or not isinstance(data.get("vectors"), list):
            raise ServiceUnavailable("the embedder sent no vectors", code="embedder_unavailable")
        if data.get("model") != self.model or data.get("dimensions") != self.dimensions:
            raise ServiceUnavailable(
                f"the embedder serves {data.get('model')!r} at {data.get('dimensions')}"
                f" dimensions, expected {self.model!r} at {self.dimensions}: vectors of"
                " different models are never mixed",
                code="embedding_model_mismatch",
            )
        vectors: list[list[float]] = data["vectors"]
        if len(vectors) != count or any(len(v) != self.dimensions for v in vectors):
            raise ServiceUnavailable(
                f"the embedder sent {len(vectors)} vectors for {count} texts, or of the wrong size",
                code="embedder_unavailable",
            )
        return vectors

    async def _client(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout, sock_connect=self._connect_timeout
                ),
                connector=aiohttp.TCPConnector(limit=8),
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            await asyncio.sleep(0)  # let aiohttp close its transports


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return None
