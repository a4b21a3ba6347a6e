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
from shared.accounts.principal import Principal
from shared.api.operation import operations
from shared.chat import contracts as c
from shared.chat.factory import chat_service
from shared.chat.service import ChatService
from shared.cors import CorsPolicy
from shared.errors import ProtostarError
from shared.events.outbox import send_after_commit
from shared.http import Router, endpoint
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
        body = await ASK.read_body(request)  # here, so that its 400 carries CORS too
        assert isinstance(body, c.Question)
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


async def list_conversations(
    request: Request, principal: Principal, query: c.ConversationsQuery
) -> Response:
    items = await (await chat_service()).conversations(principal, query.bot)
    return JSONResponse({"conversations": items}, headers=NO_STORE)


async def get_conversation(request: Request, principal: Principal) -> Response:
    view = await (await chat_service()).conversation(principal, request.path_params["id"])
    return JSONResponse(view, headers=NO_STORE)


async def feedback(request: Request, principal: Principal, body: c.FeedbackBody) -> Response:
    saved = await (await chat_service()).feedback(principal, request.path_params["id"], body)
    return JSONResponse(saved, headers=NO_STORE)


async def test_bot(request: Request, principal: Principal, body: c.TrialQuestions) -> Response:
    """The owner's "test your bot": questions in, what visitors would get out."""
    result = await (await chat_service()).test(principal, request.path_params["bot"], body)
    return JSONResponse(result, headers=NO_STORE)


_op = operations("chat", tokens=("access", "guest"))
ASK = _op(
    "POST",
    "/api/bots/{bot}/ask",
    ask,
    "Ask a bot a question. With `Accept: text/event-stream`: SSE events `token` ({text}), "
    "`citations` ([Citation]), `done` (Done) or `error` ({code, message}); else one JSON "
    "answer",
    op_id="ask",
    body=c.Question,
    eager=False,
    responses={200: c.AnswerView},
    response_content={200: {"text/event-stream": {"schema": {"type": "string"}}}},
    errors=(400, 401, 404, 429, 503),
)
router = Router(
    [
        ASK,
        _op("OPTIONS", "/api/bots/{bot}/ask", ask_preflight,
            "CORS preflight: granted (204) only to the bot's allowed origins, else 403",
            op_id="preflightAsk", public=True, responses={204: None}, errors=(403,)),
        _op("POST", "/api/bots/{bot}/test", test_bot,
            "The owner tries questions on their bot: per question what a visitor would get "
            "(answerable, answer, citations) with the evidence figures and why, in words. "
            "No quota is used and nothing is stored", op_id="testBot",
            body=c.TrialQuestions, body_limit=256 * 1024,  # 20 questions of 2,000 characters
            responses={200: c.TrialResults}, errors=(400, 401, 404, 429)),
        _op("GET", "/api/conversations", list_conversations,
            "Your conversations (as the signed-in user or the guest visitor); with "
            "`?bot={slug}`, the conversations visitors had with your bot (read-only, "
            "without who asked)", op_id="listConversations", query=c.ConversationsQuery,
            responses={200: c.ConversationList}, errors=(401, 404)),
        _op("GET", "/api/conversations/{id}", get_conversation,
            "One of your conversations with its messages, citations and feedback",
            op_id="getConversation", responses={200: c.ConversationView}, errors=(401, 404)),
        _op("POST", "/api/messages/{id}/feedback", feedback,
            "Rate an answer you asked for (up or down, optional comment); updatable",
            op_id="giveFeedback", body=c.FeedbackBody, body_limit=8 * 1024,
            responses={200: c.FeedbackSaved}, errors=(400, 401, 404)),
    ]
)  # fmt: skip


@functions_framework.aio.http
@endpoint
async def chat(request: Request) -> Response:
    return await router(request)
