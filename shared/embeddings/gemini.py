"""Gemini embeddings (``gemini-embedding-001`` at 768 dimensions) through google-genai.

One request per batch of at most 100 texts: the SDK's ``embed_content`` with a list of
contents is the REST call ``POST {base}/v1beta/models/{model}:batchEmbedContents`` with
``{"requests": [{"model", "content", "taskType", "outputDimensionality"}]}``, answered
``{"embeddings": [{"values": [...]}]}``.

Failure handling, outermost first:

- **Retries** (tenacity): 408, 429 and 5xx answers, timeouts and connection errors are
  tried again with exponential backoff and jitter, honouring the server's hint
  (``RetryInfo.retryDelay`` or ``Retry-After``) up to ``backoff_max``. The SDK's own
  retries are switched off (one attempt per call) so there is one policy, here.
- **Circuit breaker** (pybreaker) around every attempt, its state in Redis
  (``CircuitRedisStorage``), so when Gemini fails every function stops calling it at
  once: ``fail_max`` consecutive outage-class failures (counted across all processes)
  open it; for ``reset_timeout`` seconds calls fail fast with ``ServiceUnavailable``
  without a request; then one trial call half-opens it. 4xx answers other than 408/429
  mean Gemini is up: they never trip it. pybreaker's storage is synchronous (redis-py's
  sync client; its ``calling()`` context manager is a generator that can span an
  ``await``), so its bookkeeping runs in a worker thread: a slow Redis never blocks the
  event loop, and if Redis errors pybreaker falls back to "closed". Without Redis the
  breaker lives in the process.

Gemini returns vectors below 3072 dimensions un-normalised; they are scaled to unit
length here, as the interface promises. The API key goes only into the SDK's
``x-goog-api-key`` header: it is never logged, never in an error, never in ``repr``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from shared.embeddings import EmbeddingProvider, Task
from shared.errors import BadRequest, ServiceUnavailable, SettingsError
from shared.resilience import RETRY_STATUSES, is_outage, is_retryable, retry_hint, status_of
from shared.settings import redact_url

if TYPE_CHECKING:
    import pybreaker
    import redis
    from google import genai

log = logging.getLogger("protostar.embeddings.gemini")
T = TypeVar("T")

MAX_BATCH = 100
TASK_TYPES: dict[str, str] = {"document": "RETRIEVAL_DOCUMENT", "query": "RETRIEVAL_QUERY"}


class _BadResponse(Exception):
    """Gemini answered 200 with something that is not one vector per text."""


class GeminiEmbedder(EmbeddingProvider):
    def __init__(
        self,
        *,
        api_key: str,
        model: str = "gemini-embedding-001",
        dimensions: int = 768,
        base_url: str | None = None,
        api_version: str = "v1beta",
        redis_url: str | None = None,
        batch_size: int = MAX_BATCH,
        timeout: float = 60.0,
        attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 20.0,
        breaker_fail_max: int = 5,
        breaker_reset_timeout: float = 30.0,
        breaker_namespace: str | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise SettingsError("GEMINI_API_KEY: is empty")
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        self.name = f"gemini:{model}@{dimensions}"
        self.dimensions = dimensions
        self.model = model
        self.batch_size = batch_size
        self._api_key = api_key.strip()
        self._base_url = base_url
        self._api_version = api_version
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._backoff = wait_exponential_jitter(
            initial=backoff_initial, max=backoff_max, jitter=backoff_initial
        )
        self._backoff_max = backoff_max
        self._redis_url = redis_url
        self._fail_max = breaker_fail_max
        self._reset_timeout = breaker_reset_timeout
        self._namespace = breaker_namespace or f"protostar:breaker:gemini-embed:{model}"
        self._client: genai.Client | None = None
        self._breaker: pybreaker.CircuitBreaker | None = None
        self._redis: redis.Redis | None = None
        self._retry_redis_at = 0.0
        self._init_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:  # never the key
        return f"GeminiEmbedder({self.name!r}, base_url={self._base_url!r})"

    # ------------------------------------------------------------------ public API

    async def embed(self, texts: Sequence[str], *, task: Task = "document") -> list[list[float]]:
        texts = list(texts)
        if task not in TASK_TYPES:
            raise ValueError(f"task must be 'document' or 'query', not {task!r}")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text:
                raise BadRequest(f"texts[{i}] must be a non-empty string", code="invalid_text")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors += await self._batch(texts[start : start + self.batch_size], task)
        return vectors

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aio.aclose()
            self._client = None
        if self._redis is not None:
            await asyncio.to_thread(self._redis.close)
            self._redis = None
        self._breaker = None

    # ------------------------------------------------------------------ one batch

    async def _batch(self, texts: list[str], task: Task) -> list[list[float]]:
        breaker = await self._get_breaker()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await _guarded(breaker, lambda: self._request(texts, task))
        except Exception as exc:
            raise self._unavailable(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _request(self, texts: list[str], task: Task) -> list[list[float]]:
        from google.genai import types

        client = await self._get_client()
        response = await client.aio.models.embed_content(
            model=self.model,
            contents=texts,
            config=types.EmbedContentConfig(
                task_type=TASK_TYPES[task], output_dimensionality=self.dimensions
            ),
        )
        embeddings = response.embeddings or []
        if len(embeddings) != len(texts):
            raise _BadResponse(f"{len(embeddings)} embeddings for {len(texts)} texts")
        return [self._unit(e.values or []) for e in embeddings]

    def _unit(self, values: list[float]) -> list[float]:
        if len(values) != self.dimensions:
            raise _BadResponse(f"a vector of {len(values)} dimensions, not {self.dimensions}")
        norm = math.hypot(*values)
        if not math.isfinite(norm) or norm == 0.0:
            raise _BadResponse("a zero or non-finite vector")
        scale = 1.0 / norm
        return [v * scale for v in values]

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        hint = retry_hint(exc)
        return min(self._backoff_max, max(backoff, hint or 0.0))

    def _unavailable(self, exc: Exception) -> Exception:
        """The caller's error for what is left after retries; never carries the key."""
        import pybreaker
        from google.genai import errors

        if isinstance(exc, pybreaker.CircuitBreakerError):
            return ServiceUnavailable(
                f"Gemini embeddings are failing: the circuit breaker is open; calls resume"
                f" within {self._reset_timeout:g} s",
                code="gemini_circuit_open",
                headers={"Retry-After": str(math.ceil(self._reset_timeout))},
            )
        if isinstance(exc, errors.APIError):
            what = f"HTTP {exc.code} {exc.status or ''}".strip()
            if exc.code in RETRY_STATUSES:
                return ServiceUnavailable(
                    f"Gemini embeddings failed after {self._attempts} attempts ({what})",
                    code="gemini_unavailable",
                )
            return ServiceUnavailable(
                f"Gemini refused the embedding request ({what}: {exc.message or ''})",
                code="gemini_rejected",
            )
        if isinstance(exc, _BadResponse):
            return ServiceUnavailable(
                f"Gemini sent an unusable answer ({exc})", code="gemini_bad_response"
            )
        if isinstance(exc, ServiceUnavailable | BadRequest):
            return exc
        return ServiceUnavailable(
            f"Gemini is unreachable ({exc.__class__.__name__})", code="gemini_unavailable"
        )

    # ------------------------------------------------------------------ lazy parts

    def _lock(self) -> asyncio.Lock:
        if self._init_lock is None:
            self._init_lock = asyncio.Lock()
        return self._init_lock

    async def _get_client(self) -> genai.Client:
        if self._client is None:
            async with self._lock():
                if self._client is None:
                    # google.genai takes about a second to import: not on the loop.
                    self._client = await asyncio.to_thread(self._new_client)
        return self._client

    def _new_client(self) -> genai.Client:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(
            api_version=self._api_version,
            timeout=int(self._timeout * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # our policy, not the SDK's
        )
        if self._base_url:
            options.base_url = self._base_url
        return genai.Client(api_key=self._api_key, http_options=options)

    def _breaker_stale(self) -> bool:
        """No breaker yet, or one kept in-process while Redis was down, due a retry."""
        if self._breaker is None:
            return True
        wants_redis = self._redis_url is not None and self._redis is None
        return wants_redis and time.monotonic() >= self._retry_redis_at

    async def _get_breaker(self) -> pybreaker.CircuitBreaker:
        if self._breaker_stale():
            async with self._lock():
                if self._breaker_stale():
                    self._breaker = await asyncio.to_thread(self._new_breaker)
        assert self._breaker is not None
        return self._breaker

    def _new_breaker(self) -> pybreaker.CircuitBreaker:
        import pybreaker

        storage: pybreaker.CircuitBreakerStorage | None = None
        if self._redis_url:
            import redis

            client = redis.Redis.from_url(
                self._redis_url,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
                health_check_interval=15,
            )
            try:
                storage = pybreaker.CircuitRedisStorage(
                    pybreaker.STATE_CLOSED, client, namespace=self._namespace
                )
                self._redis = client
            except redis.RedisError as exc:
                client.close()
                self._retry_redis_at = time.monotonic() + 60
                log.warning(
                    "circuit breaker state stays in this process: Redis is unavailable",
                    extra={"redis": redact_url(self._redis_url), "error": type(exc).__name__},
                )
        if storage is None and self._breaker is not None:
            return self._breaker  # keep the in-process state we already have

        class StateLog(pybreaker.CircuitBreakerListener):
            def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
                log.warning(
                    "gemini embeddings circuit breaker changed state",
                    extra={
                        "breaker": cb.name,
                        "from": getattr(old_state, "name", None),
                        "to": getattr(new_state, "name", None),
                    },
                )

        return pybreaker.CircuitBreaker(
            fail_max=self._fail_max,
            reset_timeout=self._reset_timeout,
            exclude=[lambda exc: not _is_outage(exc)],
            state_storage=storage,
            name=self._namespace,
            listeners=[StateLog()],
        )


# ---------------------------------------------------------------------- helpers


async def _guarded(breaker: pybreaker.CircuitBreaker, call: Callable[[], Awaitable[T]]) -> T:
    """``call()`` under the breaker; its (synchronous, Redis) bookkeeping in a thread."""
    gate = breaker.calling()
    await asyncio.to_thread(gate.__enter__)  # CircuitBreakerError when open
    try:
        result = await call()
    except Exception as exc:
        # Records the failure; re-raises it, or CircuitBreakerError if it tripped.
        await asyncio.to_thread(gate.__exit__, type(exc), exc, exc.__traceback__)
        raise
    except BaseException as exc:  # cancelled: not Gemini's fault (excluded, see _is_outage)
        gate.__exit__(type(exc), exc, exc.__traceback__)
        raise
    await asyncio.to_thread(gate.__exit__, None, None, None)
    return result


def _is_outage(exc: BaseException) -> bool:
    """Failures that say Gemini (or the way to it) is down: these trip the breaker. An
    unusable answer counts as one too."""
    return isinstance(exc, _BadResponse) or is_outage(exc)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else None
    log.warning(
        "gemini embedding attempt failed; retrying",
        extra={
            "attempt": state.attempt_number,
            "status": status_of(exc),
            "error": type(exc).__name__ if exc else None,
            "wait_s": round(wait, 2) if wait is not None else None,
        },
    )
