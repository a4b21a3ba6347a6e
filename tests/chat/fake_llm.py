"""Local fakes of the two LLM wire protocols our generators speak, for the real client
libraries (google-genai, openai) to talk to:

- Gemini ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` answering
  ``data: {"candidates": [{"content": {"parts": [{"text": ...}]}}]}`` events, and
  ``POST /v1beta/models/{model}:generateContent`` answering one such candidate (JSON
  mode: ``generationConfig.responseMimeType`` / ``responseSchema``, which the real API
  refuses apart, 400);
- OpenAI-compatible ``POST /v1/chat/completions`` with ``stream: true`` answering
  ``chat.completion.chunk`` events and ``data: [DONE]``, and without it one
  ``chat.completion`` (structured output: ``response_format`` ``json_schema`` needs its
  ``name`` and ``schema``, 400 otherwise, as OpenAI's API says).

A one-shot reply is the pieces joined, after ``delay`` seconds. Scripted failures:
``fail_next([429, 500])`` answers those statuses first; ``break_after = n`` drops the
connection after n pieces (a failure mid-stream).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class Dropped(Exception):
    """Raised inside the stream: uvicorn then drops the connection mid-body."""


@dataclass
class FakeLLM:
    api_key: str
    pieces: list[str] = field(default_factory=lambda: ["He chose ", "RabbitMQ ", "[1]."])
    statuses: list[int] = field(default_factory=list)
    break_after: int | None = None
    delay: float = 0.0  # seconds between pieces, or before a one-shot reply
    requests: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def reset(self) -> None:
        self.pieces = ["He chose ", "RabbitMQ ", "[1]."]
        self.statuses.clear()
        self.break_after = None
        self.delay = 0.0
        self.requests.clear()
        self.times.clear()

    def fail_next(self, statuses: list[int]) -> None:
        self.statuses.extend(statuses)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/v1beta/models/{model}:streamGenerateContent", self.gemini, methods=["POST"]
                ),
                Route("/v1beta/models/{model}:generateContent", self.gemini_once, methods=["POST"]),
                Route("/v1/chat/completions", self.openai, methods=["POST"]),
            ]
        )

    def _scripted(self) -> Response | None:
        self.times.append(time.monotonic())
        if self.statuses:
            status = self.statuses.pop(0)
            return JSONResponse(
                {"error": {"code": status, "message": "scripted", "status": "UNAVAILABLE"}},
                status_code=status,
            )
        return None

    async def _stream(self, frame: Any, done: bytes | None) -> AsyncIterator[bytes]:
        for i, piece in enumerate(self.pieces):
            if self.break_after is not None and i >= self.break_after:
                raise Dropped
            yield frame(piece)
            await asyncio.sleep(self.delay)
        if done:
            yield done

    async def gemini(self, request: Request) -> Response:
        if request.headers.get("x-goog-api-key") != self.api_key:
            return JSONResponse({"error": {"code": 403, "message": "bad key"}}, status_code=403)
        if request.query_params.get("alt") != "sse":
            return JSONResponse({"error": {"code": 400, "message": "alt=sse"}}, status_code=400)
        body = await request.json()
        self.requests.append({"model": request.path_params["model"], **body})
        scripted = self._scripted()
        if scripted is not None:
            return scripted

        def frame(text: str) -> bytes:
            data = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}]}
            return f"data: {json.dumps(data)}\r\n\r\n".encode()

        return StreamingResponse(self._stream(frame, None), media_type="text/event-stream")

    async def gemini_once(self, request: Request) -> Response:
        if request.headers.get("x-goog-api-key") != self.api_key:
            return JSONResponse({"error": {"code": 403, "message": "bad key"}}, status_code=403)
        body = await request.json()
        self.requests.append({"model": request.path_params["model"], **body})
        scripted = self._scripted()
        if scripted is not None:
            return scripted
        config = body.get("generationConfig") or {}
        if "responseSchema" in config and config.get("responseMimeType") != "application/json":
            return JSONResponse(
                {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                           "message": "responseSchema needs responseMimeType application/json"}},
                status_code=400,
            )  # fmt: skip
        await asyncio.sleep(self.delay)
        return JSONResponse(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": "".join(self.pieces)}]},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 50},
                "modelVersion": request.path_params["model"],
            }
        )

    async def openai(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        body = await request.json()
        self.requests.append(body)
        scripted = self._scripted()
        if scripted is not None:
            return scripted
        if body.get("stream") is not True:
            return await self._openai_once(body)

        def frame(text: str) -> bytes:
            data = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
            }
            return f"data: {json.dumps(data)}\n\n".encode()

        return StreamingResponse(
            self._stream(frame, b"data: [DONE]\n\n"), media_type="text/event-stream"
        )

    async def _openai_once(self, body: dict[str, Any]) -> Response:
        format_ = body.get("response_format") or {}
        if format_.get("type") == "json_schema":
            spec = format_.get("json_schema") or {}
            for name in ("name", "schema"):
                if name not in spec:
                    return JSONResponse(
                        {"error": {"message": "Missing required parameter: "
                                   f"'response_format.json_schema.{name}'.",
                                   "type": "invalid_request_error"}},
                        status_code=400,
                    )  # fmt: skip
        await asyncio.sleep(self.delay)
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(self.pieces)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
            }
        )
