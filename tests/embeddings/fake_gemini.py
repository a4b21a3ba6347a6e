"""A local fake of the Gemini API's embedding endpoint, speaking its real REST protocol,
so the real google-genai client can be pointed at it (``HttpOptions(base_url=...)``).

What the installed client (google-genai 3.3.0) sends for
``client.aio.models.embed_content(model=..., contents=[...], config=...)``::

    POST {base_url}/{api_version}/models/{model}:batchEmbedContents
    x-goog-api-key: <key>
    Content-Type: application/json
    {"requests": [{"content": {"parts": [{"text": "..."}], "role": "user"},
                   "taskType": "RETRIEVAL_DOCUMENT", "outputDimensionality": 768,
                   "model": "models/gemini-embedding-001"}, ...]}

and what the API answers::

    200 {"embeddings": [{"values": [0.013, -0.021, ...]}, ...]}
    4xx/5xx {"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED",
                       "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                    "retryDelay": "1s"}]}}

The API checks like the real one: the key (400 ``API_KEY_INVALID``, 403 without one), at
most 100 requests per batch, each request naming the model of the URL, a known task
type, ``outputDimensionality`` in 128..3072, non-empty text parts. Vectors are
deterministic per text and NOT unit length (like Gemini's below 3072 dimensions).
Failures are scripted: ``fail_next([429, 500])`` or ``fail_always(500)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MODELS = {"gemini-embedding-001"}
VERSIONS = {"v1", "v1beta"}
TASK_TYPES = {
    "TASK_TYPE_UNSPECIFIED",
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
}
MAX_BATCH = 100
GOOGLE_RPC = "type.googleapis.com/google.rpc"
REQUESTS = "* BatchEmbedContentsRequest.requests"
BUCKETS = 256
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass
class Seen:
    """One request that reached the server."""

    path: str
    version: str
    model: str
    key: str | None
    texts: list[str]
    task_types: list[str]
    dimensions: list[int | None]
    status: int = 200


class _Vectors:
    """Deterministic vectors: one of BUCKETS fixed random directions per text (by hash),
    scaled by 3; their JSON is built once, so answering costs next to nothing."""

    def __init__(self, dims: int) -> None:
        rng = random.Random(dims)
        self.rows = [[rng.uniform(-1, 1) * 3 for _ in range(dims)] for _ in range(BUCKETS)]
        self.json = [json.dumps(row, separators=(",", ":")) for row in self.rows]

    @staticmethod
    def bucket(text: str) -> int:
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % BUCKETS


class FakeGemini:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.seen: list[Seen] = []
        self._script: deque[int] = deque()
        self._always: int | None = None
        self.retry_delay: str | None = None
        self._vectors: dict[int, _Vectors] = {}
        self.app = Starlette(
            routes=[Route("/{version}/models/{call:path}", self.handle, methods=["POST"])]
        )

    # ------------------------------------------------------------------ scripting

    def fail_next(self, statuses: list[int]) -> None:
        self._script.extend(statuses)

    def fail_always(self, status: int | None) -> None:
        self._always = status

    def reset(self) -> None:
        self.seen.clear()
        self._script.clear()
        self._always = None
        self.retry_delay = None

    def vector(self, text: str, dims: int) -> list[float]:
        """The (un-normalised) vector this server answers for ``text``."""
        return self._table(dims).rows[_Vectors.bucket(text)]

    def _table(self, dims: int) -> _Vectors:
        if dims not in self._vectors:
            self._vectors[dims] = _Vectors(dims)
        return self._vectors[dims]

    # ------------------------------------------------------------------ protocol

    @staticmethod
    def error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> Response:
        error: dict[str, Any] = {
            "code": status,
            "message": message,
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
        }
        if details:
            error["details"] = details
        return JSONResponse({"error": error}, status_code=status)

    async def handle(self, request: Request) -> Response:
        version = request.path_params["version"]
        model, _, method = request.path_params["call"].partition(":")
        if version not in VERSIONS or method != "batchEmbedContents":
            return self.error(404, f"Method not found: {request.url.path}")
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self.error(400, "Invalid JSON payload received.")
        requests = body.get("requests") if isinstance(body, dict) else None
        seen = Seen(
            path=request.url.path,
            version=version,
            model=model,
            key=key,
            texts=[],
            task_types=[],
            dimensions=[],
        )
        self.seen.append(seen)
        problem = self._check(requests, model, seen)  # records what was sent
        status = self._script.popleft() if self._script else (self._always or 200)
        seen.status = status
        if status == 429:
            details = (
                [
                    {
                        "@type": f"{GOOGLE_RPC}.RetryInfo",
                        "retryDelay": self.retry_delay,
                    }
                ]
                if self.retry_delay
                else None
            )
            return self.error(429, "Resource has been exhausted (e.g. check quota).", details)
        if status >= 500:
            return self.error(status, "Internal error encountered.")
        if status != 200:
            return self.error(status, "Request contains an invalid argument.")
        if key is None:
            return self.error(
                403,
                "Method doesn't allow unregistered callers (callers without established"
                " identity). Please use API Key or other form of API consumer identity to"
                " call this API.",
            )
        if key != self.api_key:
            seen.status = 400
            return self.error(
                400,
                "API key not valid. Please pass a valid API key.",
                [{"@type": f"{GOOGLE_RPC}.ErrorInfo", "reason": "API_KEY_INVALID"}],
            )
        if model not in MODELS:
            seen.status = 404
            return self.error(
                404, f"models/{model} is not found for API version {version}, or is not supported"
            )
        if problem:
            seen.status = 400
            return self.error(400, problem)
        dims = seen.dimensions[0] or 3072
        table = self._table(dims)
        parts = ('{"values":' + table.json[_Vectors.bucket(t)] + "}" for t in seen.texts)
        return Response('{"embeddings":[' + ",".join(parts) + "]}", media_type="application/json")

    @staticmethod
    def _check(requests: Any, model: str, seen: Seen) -> str | None:
        if not isinstance(requests, list) or not requests:
            return f"{REQUESTS}: contents is not specified"
        if len(requests) > MAX_BATCH:
            return f"{REQUESTS}: at most {MAX_BATCH} requests can be in one batch"
        for i, item in enumerate(requests):
            if not isinstance(item, dict):
                return f"Invalid value at 'requests[{i}]'"
            if item.get("model") != f"models/{model}":
                return (
                    f"* BatchEmbedContentsRequest.model: unexpected model name format"
                    f" (requests[{i}].model must be models/{model})"
                )
            parts = (item.get("content") or {}).get("parts")
            texts = [p.get("text") for p in parts or [] if isinstance(p, dict)]
            if not texts or not all(isinstance(t, str) and t for t in texts):
                return f"{REQUESTS}[{i}].content: contents is not specified"
            task = item.get("taskType", "TASK_TYPE_UNSPECIFIED")
            if task not in TASK_TYPES:
                return f"Invalid value at 'requests[{i}].task_type' ({task!r})"
            dims = item.get("outputDimensionality")
            if dims is not None and (not isinstance(dims, int) or not 128 <= dims <= 3072):
                return f"* requests[{i}].output_dimensionality must be in 128..3072"
            seen.texts.append("".join(texts))
            seen.task_types.append(task)
            seen.dimensions.append(dims)
        if len(set(seen.dimensions)) > 1:
            return "* all requests of a batch need the same output_dimensionality"
        return None


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # the test process keeps its own signal handlers
        yield


@contextlib.asynccontextmanager
async def serve(app: Any, port: int) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn in this event loop; yields its base URL."""
    server = _Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="error", lifespan="off", access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
