"""One operation of the public API: its route, its handler, and its contract (the body,
query and response models, the error statuses, whether a token is needed).

The route tables of the functions are lists of operations; the Router dispatches them
and the OpenAPI document is generated from them (shared/api/openapi.py), so a route
cannot exist undocumented and a documented body is the body that is validated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from shared.api.contract import Body, Query

if TYPE_CHECKING:  # the token library loads only where a token is checked
    from shared.accounts.tokens import TokenType

Json = dict[str, Any]
DEFAULT_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Operation:
    """``responses`` maps each success status to its model (None: no body).

    Unless ``public``, the caller's bearer token is verified first (one of ``tokens``:
    401 without a valid one, before the body is read) and the handler gets it as
    ``principal=``. With ``eager`` (the default) the query and body are validated next
    and passed as ``query=`` and ``body=``. A handler that must answer some errors
    itself (the ask endpoint adds CORS to them) sets ``eager=False``, authenticates and
    calls ``await op.read_body(request)`` itself."""

    method: str
    path: str
    handler: Callable[..., Awaitable[Response]]
    summary: str
    tag: str
    op_id: str
    responses: Mapping[int, type[BaseModel] | None]
    errors: tuple[int, ...] = ()
    body: type[Body] | None = None
    query: type[Query] | None = None
    public: bool = False  # True: no token needed (documented as such)
    tokens: tuple[TokenType, ...] = ("access",)  # the token types that may call it
    body_limit: int = DEFAULT_BODY_LIMIT
    eager: bool = True
    # Media the models cannot say: multipart uploads, server-sent events.
    request_content: Json | None = None
    response_content: Mapping[int, Json] = field(default_factory=dict)
    path_params: Mapping[str, Json] = field(default_factory=dict)

    async def read_body(self, request: Request) -> Body:
        from shared.http import json_body

        assert self.body is not None, f"{self.op_id} declares no body"
        return self.body.parse(await json_body(request, limit=self.body_limit))

    async def __call__(self, request: Request) -> Response:
        if not self.eager:
            return await self.handler(request)
        kwargs: dict[str, Any] = {}
        if not self.public:
            from shared.accounts.context import authenticate

            # Who calls comes first: a forged or expired token reads no body.
            kwargs["principal"] = authenticate(request, self.tokens)
        if self.query is not None:
            kwargs["query"] = self.query.parse(dict(request.query_params))
        if self.body is not None:
            kwargs["body"] = await self.read_body(request)
        return await self.handler(request, **kwargs)


def operations(
    tag: str, *, public: bool = False, tokens: tuple[TokenType, ...] = ("access",)
) -> Callable[..., Operation]:
    """A maker of one capability's operations: ``op = operations("bots")`` then
    ``op("GET", "/api/bots", list_bots, "Your bots", op_id=..., responses=...)``."""

    def make(
        method: str,
        path: str,
        handler: Callable[..., Awaitable[Response]],
        summary: str,
        **contract: Any,
    ) -> Operation:
        contract.setdefault("public", public)
        contract.setdefault("tokens", tokens)
        return Operation(method, path, handler, summary, tag, **contract)

    return make
