"""embedder: the offline embedding model (all-MiniLM-L6-v2) for every other function.

Internal surface, kept warm (min-scale 1): the only process that loads torch. The model
loads on the first request (``GET /healthz`` or ``POST /embed``), not at import.

    POST /embed    {"texts": ["...", ...], "task": "document" | "query"}
                   -> {"model": "all-MiniLM-L6-v2", "dimensions": 384, "vectors": [[...]]}
    GET  /healthz  loads the model if needed -> {"status": "ok", "model": ..., ...}
"""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.embeddings.model import MAX_BODY_BYTES, LocalModel, get_model, parse_request
from shared.http import Router, endpoint, json_body
from shared.logs import configure_logging
from shared.settings import get_settings

configure_logging("embedder")
NO_STORE = {"Cache-Control": "no-store"}


def _model() -> LocalModel:
    return get_model(get_settings().local_embedding_model)


async def embed(request: Request) -> Response:
    parsed = parse_request(await json_body(request, limit=MAX_BODY_BYTES))
    model = _model()
    vectors = await model.aencode(parsed.texts)
    return JSONResponse(
        {"model": model.name, "dimensions": model.dimensions, "vectors": vectors},
        headers=NO_STORE,
    )


async def healthz(request: Request) -> Response:
    model = _model()
    await model.aload()
    return JSONResponse({"status": "ok", **model.describe()}, headers=NO_STORE)


router = Router([("POST", "/embed", embed), ("GET", "/healthz", healthz)])


@functions_framework.aio.http
@endpoint
async def embedder(request: Request) -> Response:
    return await router(request)
