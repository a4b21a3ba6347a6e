"""The OpenAPI 3.1 document of the public API (served at ``/api/openapi.json``).

Written here once; tests/api/test_openapi.py checks that it validates as OpenAPI 3.1 and
that every route of every function's Router is documented here, and nothing more.
"""

from __future__ import annotations

import functools
from typing import Any

Json = dict[str, Any]


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Json, description: str = "OK") -> Json:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: Json) -> Json:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> Json:
    names = {
        400: "Bad input",
        401: "Not signed in or token refused",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        410: "Gone",
        413: "Too large",
        429: "Too many requests",
        503: "A dependency is down",
    }
    return {str(c): _json(_ref("Error"), names[c]) for c in codes}


def _op(
    summary: str,
    tag: str,
    responses: Json,
    *,
    body: Json | None = None,
    auth: bool = True,
    op_id: str,
) -> Json:
    op: Json = {"summary": summary, "tags": [tag], "operationId": op_id, "responses": responses}
    if body is not None:
        op["requestBody"] = _body(body)
    op["security"] = [{"bearer": []}] if auth else []
    return op


def _obj(required: list[str], props: Json) -> Json:
    return {"type": "object", "required": required, "properties": props}


SCHEMAS: Json = {
    "Error": _obj(
        ["error"],
        {
            "error": _obj(
                ["code", "message"], {"code": {"type": "string"}, "message": {"type": "string"}}
            )
        },
    ),
    "User": _obj(
        ["id", "email", "role", "is_admin", "created_at"],
        {
            "id": {"type": "string", "format": "uuid"},
            "email": {"type": "string"},
            "display_name": {"type": ["string", "null"]},
            "role": {"enum": ["stargazer", "protostar"]},
            "is_admin": {"type": "boolean"},
            "locale": {"enum": ["ko", "en", None]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    ),
    "TokenResponse": _obj(
        ["access_token", "refresh_token", "token_type", "expires_in", "user"],
        {
            "access_token": {"type": "string"},
            "refresh_token": {"type": "string"},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer"},
            "user": _ref("User"),
        },
    ),
    "GuestToken": _obj(
        ["access_token", "token_type", "expires_in", "role", "bot"],
        {
            "access_token": {"type": "string"},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer"},
            "role": {"const": "guest"},
            "bot": {"type": "string"},
            "user": {"type": "null"},
        },
    ),
    "Credentials": _obj(
        ["email", "password"],
        {
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "password": {"type": "string", "minLength": 10, "maxLength": 128},
        },
    ),
    "Invite": _obj(
        ["id", "hint", "created_at", "expires_at", "status"],
        {
            "id": {"type": "string", "format": "uuid"},
            "code": {"type": "string", "description": "Only in the response that creates it"},
            "hint": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
            "status": {"enum": ["open", "used", "expired"]},
        },
    ),
    "Document": _obj(
        ["id", "title", "status", "chunks"],
        {
            "id": {"type": "string", "format": "uuid"},
            "title": {"type": "string"},
            "status": {"enum": ["uploaded", "processing", "ready", "failed"]},
            "error": {"type": "string", "description": "Why it failed, for people"},
            "chunks": {"type": "integer"},
            "filename": {"type": "string"},
            "media_type": {"type": "string"},
            "size": {"type": "integer"},
            "embedding_model": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    ),
    "BotPublic": _obj(
        ["slug", "name", "greeting", "suggested_questions", "language"],
        {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "greeting": {"type": "string"},
            "suggested_questions": {"type": "array", "items": {"type": "string"}},
            "language": {"enum": ["ko", "en", "auto"]},
        },
    ),
    "Bot": _obj(
        [
            "id",
            "slug",
            "name",
            "persona",
            "greeting",
            "suggested_questions",
            "language",
            "allowed_origins",
            "discoverable",
            "discord_webhook",
            "discord_webhook_disabled_at",
            "discord_webhook_disabled_reason",
            "created_at",
            "updated_at",
        ],
        {
            "id": {"type": "string", "format": "uuid"},
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "persona": {"type": "string"},
            "greeting": {"type": "string"},
            "suggested_questions": {"type": "array", "items": {"type": "string"}},
            "language": {"enum": ["ko", "en", "auto"]},
            "allowed_origins": {"type": "array", "items": {"type": "string"}},
            "discoverable": {"type": "boolean"},
            "discord_webhook": {"type": ["string", "null"]},
            "discord_webhook_disabled_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When notify stopped using the webhook (Discord: 404/401)",
            },
            "discord_webhook_disabled_reason": {
                "type": ["string", "null"],
                "description": "Why; cleared when a webhook is set again",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    ),
    "BotSettings": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 80},
            "persona": {"type": "string", "maxLength": 2000},
            "greeting": {"type": "string", "maxLength": 500},
            "suggested_questions": {
                "type": "array",
                "maxItems": 6,
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
            },
            "language": {"enum": ["ko", "en", "auto"]},
            "allowed_origins": {
                "type": "array",
                "maxItems": 20,
                "items": {"type": "string", "description": "scheme://host[:port]"},
            },
            "discoverable": {"type": "boolean"},
            "discord_webhook": {
                "type": ["string", "null"],
                "description": "https://discord.com/api/webhooks/<id>/<token>",
            },
            "slug": {
                "type": "string",
                "pattern": "^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$",
                "description": "Set at creation; cannot change",
            },
        },
    },
    "Health": _obj(
        ["status", "checks"],
        {
            "status": {"enum": ["ok", "degraded"]},
            "checks": {
                "type": "object",
                "additionalProperties": _obj(
                    ["status"],
                    {
                        "status": {"enum": ["up", "down"]},
                        "latency_ms": {"type": "number"},
                        "error": {"type": "string"},
                    },
                ),
            },
            "failed": {"type": "array", "items": {"type": "string"}},
        },
    ),
}

REFRESH = _obj(["refresh_token"], {"refresh_token": {"type": "string"}})
BOT = {
    "name": "bot",
    "in": "path",
    "required": True,
    "description": "The bot's slug",
    "schema": {"type": "string"},
}
DOC = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The document's id",
    "schema": {"type": "string", "format": "uuid"},
}


_CITATION = _obj(
    ["document_id", "title", "section", "snippet"],
    {
        "document_id": {"type": "string", "format": "uuid"},
        "title": {"type": "string"},
        "section": {"type": "string", "description": "Section path, e.g. 'Career > Orbit'"},
        "snippet": {"type": "string"},
    },
)
_QUOTA = _obj(
    ["limit", "remaining", "reset_at", "scope"],
    {
        "limit": {"type": ["integer", "null"], "description": "null: unlimited"},
        "remaining": {"type": ["integer", "null"]},
        "reset_at": {"type": ["string", "null"], "format": "date-time"},
        "scope": {"enum": ["guest", "daily", "unlimited", "bot_budget"]},
    },
)
SCHEMAS.update(
    {
        "Citation": _CITATION,
        "Quota": _QUOTA,
        "Question": _obj(
            ["question"],
            {
                "question": {"type": "string", "minLength": 1, "maxLength": 2000},
                "conversation_id": {"type": "string", "format": "uuid"},
            },
        ),
        "Answer": _obj(
            ["answer", "citations", "answerable", "conversation_id", "message_id", "quota"],
            {
                "answer": {"type": "string"},
                "citations": {"type": "array", "items": _ref("Citation")},
                "answerable": {"type": "boolean"},
                "conversation_id": {"type": "string", "format": "uuid"},
                "message_id": {"type": "string", "format": "uuid"},
                "quota": _ref("Quota"),
            },
        ),
        "Feedback": _obj(
            ["rating"],
            {
                "rating": {"enum": ["up", "down"]},
                "comment": {"type": ["string", "null"], "maxLength": 1000},
            },
        ),
        "Insights": _obj(
            ["days", "top_questions", "unanswered", "feedback"],
            {
                "days": {"type": "array", "items": {"type": "object"}},
                "top_questions": {"type": "array", "items": {"type": "object"}},
                "unanswered": {"type": "array", "items": {"type": "object"}},
                "feedback": {"type": "object"},
            },
        ),
    }
)
_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
_CHAT_PATHS: Json = {
    "/api/bots/{bot}/ask": {
        "post": _op(
            "Ask a bot a question. With `Accept: text/event-stream`: SSE events `token` "
            "({text}), `citations` ([Citation]), `done` ({answerable, conversation_id, "
            "message_id, quota}) or `error` ({code, message}); else one JSON Answer",
            "chat",
            {
                "200": {
                    "description": "The answer",
                    "content": {
                        "application/json": {"schema": _ref("Answer")},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                **_errors(400, 401, 404, 429, 503),
            },
            body=_ref("Question"),
            op_id="ask",
        )
        | {"parameters": [BOT]},
        "options": _op(
            "CORS preflight: granted (204) only to the bot's allowed origins, else 403",
            "chat",
            {"204": {"description": "Preflight granted"}, **_errors(403)},
            auth=False,
            op_id="preflightAsk",
        )
        | {"parameters": [BOT]},
    },
    "/api/bots/{bot}/test": {
        "post": _op(
            "The owner tries questions on their bot ({questions: [1..20 strings]}): per "
            "question what a visitor would get (answerable, answer, citations) with the "
            "evidence figures and why, in words. No quota is used and nothing is stored",
            "chat",
            {"200": _json({"type": "object"}), **_errors(400, 401, 404)},
            body={
                "type": "object",
                "required": ["questions"],
                "additionalProperties": False,
                "properties": {
                    "questions": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 20,
                        "items": {"type": "string", "minLength": 1, "maxLength": 2000},
                    }
                },
            },
            op_id="testBot",
        )
        | {"parameters": [BOT]},
    },
    "/api/conversations": {
        "get": _op(
            "Your conversations (as the signed-in user or the guest visitor); with "
            "`?bot={slug}`, the conversations visitors had with your bot (read-only, "
            "without who asked)",
            "chat",
            {"200": _json({"type": "object"}), **_errors(401)},
            op_id="listConversations",
        )
    },
    "/api/conversations/{id}": {
        "get": _op(
            "One of your conversations with its messages, citations and feedback",
            "chat",
            {"200": _json({"type": "object"}), **_errors(401, 404)},
            op_id="getConversation",
        )
        | {"parameters": [_ID]},
    },
    "/api/messages/{id}/feedback": {
        "post": _op(
            "Rate an answer you asked for (up or down, optional comment); updatable",
            "chat",
            {"200": _json({"type": "object"}), **_errors(400, 401, 404)},
            body=_ref("Feedback"),
            op_id="giveFeedback",
        )
        | {"parameters": [_ID]},
    },
    "/api/bots/{bot}/insights": {
        "get": _op(
            "What visitors ask your bot: questions per day, top and unanswered questions, "
            "feedback (`?days=` 1..90, default 30)",
            "insights",
            {"200": _json(_ref("Insights")), **_errors(401, 403, 404)},
            op_id="getInsights",
        )
        | {"parameters": [BOT]},
    },
}


@functools.cache
def document(server_url: str = "/") -> Json:
    paths: Json = {
        "/healthz": {
            "get": _op(
                "Readiness of PostgreSQL, Redis and the object store",
                "platform",
                {"200": _json(_ref("Health")), "503": _json(_ref("Health"), "A part is down")},
                auth=False,
                op_id="health",
            )
        },
        "/api/openapi.json": {
            "get": _op(
                "This document",
                "platform",
                {"200": _json({"type": "object"})},
                auth=False,
                op_id="openapi",
            )
        },
        "/api/auth/signup": {
            "post": _op(
                "Create an account (a stargazer) and sign in",
                "auth",
                {"201": _json(_ref("TokenResponse"), "Created"), **_errors(400, 409, 503)},
                body={**_ref("Credentials")},
                auth=False,
                op_id="signup",
            )
        },
        "/api/auth/login": {
            "post": _op(
                "Sign in",
                "auth",
                {"200": _json(_ref("TokenResponse")), **_errors(400, 401, 429)},
                body=_ref("Credentials"),
                auth=False,
                op_id="login",
            )
        },
        "/api/auth/refresh": {
            "post": _op(
                "Rotate a refresh token (reuse of a rotated one revokes the session)",
                "auth",
                {"200": _json(_ref("TokenResponse")), **_errors(400, 401)},
                body=REFRESH,
                auth=False,
                op_id="refresh",
            )
        },
        "/api/auth/logout": {
            "post": _op(
                "Sign out (revokes the refresh token's whole session)",
                "auth",
                {"204": {"description": "Signed out"}, **_errors(400, 401)},
                body=REFRESH,
                auth=False,
                op_id="logout",
            )
        },
        "/api/auth/guest": {
            "post": _op(
                "A signed visitor identity for one bot (capped per IP per hour)",
                "auth",
                {"200": _json(_ref("GuestToken")), **_errors(400, 429)},
                body=_obj(["bot"], {"bot": {"type": "string"}}),
                auth=False,
                op_id="guest",
            )
        },
        "/api/auth/password-reset": {
            "post": _op(
                "Ask for a password reset link (always 202)",
                "auth",
                {"202": _json({"type": "object"}, "Accepted"), **_errors(429)},
                body=_obj(["email"], {"email": {"type": "string"}}),
                auth=False,
                op_id="passwordReset",
            )
        },
        "/api/auth/password-reset/confirm": {
            "post": _op(
                "Set a new password with a reset token (single use, expiring)",
                "auth",
                {"200": _json({"type": "object"}), **_errors(400)},
                body=_obj(
                    ["token", "password"],
                    {"token": {"type": "string"}, "password": {"type": "string"}},
                ),
                auth=False,
                op_id="passwordResetConfirm",
            )
        },
        "/api/auth/jwks": {
            "get": _op(
                "Public keys that verify our tokens",
                "auth",
                {"200": _json({"type": "object"})},
                auth=False,
                op_id="jwks",
            )
        },
        "/.well-known/jwks.json": {
            "get": _op(
                "Public keys (well-known location)",
                "auth",
                {"200": _json({"type": "object"})},
                auth=False,
                op_id="wellKnownJwks",
            )
        },
        "/api/users/me": {
            "get": _op(
                "The signed-in user",
                "users",
                {"200": _json(_ref("User")), **_errors(401, 404)},
                op_id="getMe",
            ),
            "patch": _op(
                "Change display name, locale or password",
                "users",
                {"200": _json(_ref("User")), **_errors(400, 401, 403)},
                body=_obj(
                    [],
                    {
                        "display_name": {"type": ["string", "null"]},
                        "locale": {"enum": ["ko", "en", None]},
                        "password": {"type": "string"},
                        "current_password": {"type": "string"},
                    },
                ),
                op_id="updateMe",
            ),
            "delete": _op(
                "Delete the account and everything it owns",
                "users",
                {"204": {"description": "Deleted"}, **_errors(401, 404)},
                op_id="deleteMe",
            ),
        },
        "/api/users/me/export": {
            "get": _op(
                "All of the user's data as JSON",
                "users",
                {"200": _json({"type": "object"}), **_errors(401)},
                op_id="exportMe",
            )
        },
        "/api/users/me/invite": {
            "post": _op(
                "Redeem an invite code: a stargazer becomes a protostar (fresh tokens)",
                "users",
                {"200": _json(_ref("TokenResponse")), **_errors(400, 401, 404, 409, 410)},
                body=_obj(["code"], {"code": {"type": "string"}}),
                op_id="redeemInvite",
            )
        },
        "/api/invites": {
            "post": _op(
                "Issue an invite code (protostars: a limited number)",
                "users",
                {"201": _json(_ref("Invite"), "Created"), **_errors(401, 403)},
                op_id="issueInvite",
            ),
            "get": _op(
                "The invite codes you issued",
                "users",
                {
                    "200": _json(
                        _obj(["invites"], {"invites": {"type": "array", "items": _ref("Invite")}})
                    ),
                    **_errors(401, 403),
                },
                op_id="listInvites",
            ),
        },
        "/api/bots": {
            "post": _op(
                "Create a bot (protostars)",
                "bots",
                {
                    "201": _json(_ref("Bot"), "Created"),
                    **_errors(400, 401, 403, 409),
                },
                body={"allOf": [_ref("BotSettings"), {"required": ["slug", "name"]}]},
                op_id="createBot",
            ),
            "get": _op(
                "Your bots",
                "bots",
                {
                    "200": _json(_obj(["bots"], {"bots": {"type": "array", "items": _ref("Bot")}})),
                    **_errors(401, 403),
                },
                op_id="listBots",
            ),
        },
        "/api/bots/{bot}": {
            "get": _op(
                "One of your bots (another user's bot is 404)",
                "bots",
                {"200": _json(_ref("Bot")), **_errors(401, 403, 404)},
                op_id="getBot",
            )
            | {"parameters": [BOT]},
            "patch": _op(
                "Change one of your bots' settings",
                "bots",
                {"200": _json(_ref("Bot")), **_errors(400, 401, 403, 404)},
                body=_ref("BotSettings"),
                op_id="updateBot",
            )
            | {"parameters": [BOT]},
        },
        "/api/bots/{bot}/public": {
            "get": _op(
                "What a bot's widget shows: nothing private",
                "bots",
                {"200": _json(_ref("BotPublic")), **_errors(404)},
                auth=False,
                op_id="getPublicBot",
            )
            | {"parameters": [BOT]},
            "options": _op(
                "CORS preflight: granted (204) only to the bot's allowed origins, else 403",
                "bots",
                {"204": {"description": "Preflight granted"}, **_errors(403, 404)},
                auth=False,
                op_id="preflightPublicBot",
            )
            | {"parameters": [BOT]},
        },
        "/api/bots/{bot}/documents": {
            "post": _op(
                "Upload a career document (PDF, DOCX, Markdown, HTML, text; at most 10 MB); "
                "it is embedded in the background",
                "documents",
                {
                    "202": _json(
                        _obj(
                            ["id", "status"],
                            {
                                "id": {"type": "string", "format": "uuid"},
                                "status": {"const": "uploaded"},
                            },
                        ),
                        "Accepted",
                    ),
                    **_errors(400, 401, 403, 404, 413),
                },
                op_id="uploadDocument",
            )
            | {
                "parameters": [BOT],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": _obj(
                                ["file"],
                                {
                                    "file": {
                                        "type": "string",
                                        "contentMediaType": "application/octet-stream",
                                    }
                                },
                            )
                        }
                    },
                },
            },
            "get": _op(
                "The bot's documents and their status",
                "documents",
                {
                    "200": _json(
                        _obj(
                            ["documents"],
                            {"documents": {"type": "array", "items": _ref("Document")}},
                        )
                    ),
                    **_errors(401, 403, 404),
                },
                op_id="listDocuments",
            )
            | {"parameters": [BOT]},
        },
        "/api/bots/{bot}/documents/{id}": {
            "get": _op(
                "One document",
                "documents",
                {"200": _json(_ref("Document")), **_errors(401, 403, 404)},
                op_id="getDocument",
            )
            | {"parameters": [BOT, DOC]},
            "delete": _op(
                "Delete a document: its original, chunks and vectors",
                "documents",
                {"204": {"description": "Deleted"}, **_errors(401, 403, 404)},
                op_id="deleteDocument",
            )
            | {"parameters": [BOT, DOC]},
        },
        "/api/bots/{bot}/documents/{id}/reindex": {
            "post": _op(
                "Re-embed one document (e.g. to retry one that failed)",
                "documents",
                {
                    "202": _json(
                        _obj(
                            ["documents", "status"],
                            {"documents": {"const": 1}, "status": {"const": "reindexing"}},
                        ),
                        "Accepted",
                    ),
                    **_errors(401, 403, 404),
                },
                op_id="reindexDocument",
            )
            | {"parameters": [BOT, DOC]},
        },
        "/api/bots/{bot}/reindex": {
            "post": _op(
                "Re-embed every document (after a model change)",
                "documents",
                {
                    "202": _json(
                        _obj(
                            ["documents", "status"],
                            {"documents": {"type": "integer"}, "status": {"const": "reindexing"}},
                        ),
                        "Accepted",
                    ),
                    **_errors(401, 403, 404),
                },
                op_id="reindexBot",
            )
            | {"parameters": [BOT]},
        },
    }
    paths.update(_CHAT_PATHS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Protostar API",
            "version": "0.1.0",
            "description": "Career Q&A: accounts, bots, documents, answers. Errors are "
            '`{"error": {"code", "message"}}`.',
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
