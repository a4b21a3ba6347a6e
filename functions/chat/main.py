"""chat: answer questions about a bot's career documents (JSON or SSE), conversations
and feedback. The logic lives in shared/chat/; this is the HTTP surface."""

import json
import logging
from collections.abc import AsyncIterator

import anyio
import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from shared.accounts.context import authenticate, authorize_bot
from shared.chat.factory import chat_service
from shared.chat.service import ChatService
from shared.cors import CorsPolicy
from shared.errors import ProtostarError
from shared.events.outbox import send_after_commit
from shared.http import Router, endpoint, json_body
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("chat")
log = logging.getLogger("protostar.chat")
NO_STORE = {"Cache-Control": "no-store"}
SSE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # proxies must not buffer the stream
}


async def _send_after_commit(event_ids: list[str]) -> None:
    res = get_resources("chat")
    await send_after_commit(await res.pool(), res.settings.broker_url, event_ids)


def sse(event: str, data: object) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


def _cors(origins: tuple[str, ...]) -> CorsPolicy:
    return CorsPolicy(
        origins,
        methods=("POST",),
        headers=("authorization", "content-type", "accept"),
        expose=("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"),
    )


async def ask(request: Request) -> Response:
    service = await chat_service()
    slug = request.path_params["bot"]
    policy: CorsPolicy | None = None
    try:
        principal = authenticate(request)
        authorize_bot(principal, slug)
        body = await json_body(request, limit=64 * 1024)
        bot = await service.bot(slug)
        policy = _cors(bot.allowed_origins)
        answer = await service.prepare(principal, bot, body)
    except ProtostarError as exc:
        if policy is None:
            policy = await _policy_or_none(service, slug)
        response: Response = JSONResponse(
            exc.to_body(), status_code=exc.status, headers=exc.headers
        )
        if policy is not None:
            policy.apply(request.headers, response.headers)
        return response
    headers = {**service.quotas.rate_limit_headers(answer.quota)}
    streaming = "text/event-stream" in request.headers.get("accept", "")
    if not streaming:
        try:
            async for _ in answer.pieces():
                pass
            with anyio.CancelScope(shield=True):
                done, event_ids = await service.finish(answer)
        except Exception as exc:
            # Our failure (the model, the database): the question is given back.
            with anyio.CancelScope(shield=True):
                await service.fail(answer)
            if not isinstance(exc, ProtostarError):
                raise
            response = JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers)
            policy.apply(request.headers, response.headers)
            return response
        await _send_after_commit(event_ids)
        response = JSONResponse(
            {"answer": "".join(answer.text), "citations": answer.citations(), **done},
            headers={**NO_STORE, **headers},
        )
        policy.apply(request.headers, response.headers)
        return response

    async def events() -> AsyncIterator[bytes]:
        """Tokens, citations, done; or an error event after which the question is given
        back. A visitor who leaves mid-stream keeps it counted (an answer was being
        given) and nothing is stored; bookkeeping is shielded from that cancellation."""
        failed = False
        try:
            async for piece in answer.pieces():
                yield sse("token", {"text": piece})
            yield sse("citations", answer.citations())
            with anyio.CancelScope(shield=True):
                done, event_ids = await service.finish(answer)
            yield sse("done", done)
            await _send_after_commit(event_ids)
        except ProtostarError as exc:
            failed = True
            yield sse("error", {"code": exc.code, "message": exc.message})
        except Exception:
            failed = True
            log.exception("answer failed mid-stream")
            yield sse("error", {"code": "internal", "message": "internal error"})
        finally:
            if failed:
                with anyio.CancelScope(shield=True):
                    await service.fail(answer)  # the question is given back

    response = StreamingResponse(
        events(), media_type="text/event-stream; charset=utf-8", headers={**SSE_HEADERS, **headers}
    )
    policy.apply(request.headers, response.headers)
    return response


async def _policy_or_none(service: ChatService, slug: str) -> CorsPolicy | None:
    try:
        bot = await service.bot(slug)
    except ProtostarError:
        return None
    return _cors(bot.allowed_origins)


async def ask_preflight(request: Request) -> Response:
    policy = await _policy_or_none(await chat_service(), request.path_params["bot"])
    return (policy or _cors(())).preflight(request.headers)


async def list_conversations(request: Request) -> Response:
    principal = authenticate(request)
    bot = request.query_params.get("bot")
    items = await (await chat_service()).conversations(principal, bot)
    return JSONResponse({"conversations": items}, headers=NO_STORE)


async def get_conversation(request: Request) -> Response:
    principal = authenticate(request)
    view = await (await chat_service()).conversation(principal, request.path_params["id"])
    return JSONResponse(view, headers=NO_STORE)


async def feedback(request: Request) -> Response:
    principal = authenticate(request)
    body = await json_body(request, limit=8 * 1024)
    saved = await (await chat_service()).feedback(principal, request.path_params["id"], body)
    return JSONResponse(saved, headers=NO_STORE)


async def test_bot(request: Request) -> Response:
    """The owner's "test your bot": questions in, what visitors would get out."""
    principal = authenticate(request)
    body = await json_body(request, limit=256 * 1024)  # 20 questions of 2,000 characters
    result = await (await chat_service()).test(principal, request.path_params["bot"], body)
    return JSONResponse(result, headers=NO_STORE)


router = Router(
    [
        ("POST", "/api/bots/{bot}/ask", ask),
        ("POST", "/api/bots/{bot}/test", test_bot),
        ("OPTIONS", "/api/bots/{bot}/ask", ask_preflight),
        ("GET", "/api/conversations", list_conversations),
        ("GET", "/api/conversations/{id}", get_conversation),
        ("POST", "/api/messages/{id}/feedback", feedback),
    ]
)


@functions_framework.aio.http
@endpoint
async def chat(request: Request) -> Response:
    return await router(request)
