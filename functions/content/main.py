"""content: a bot's career documents (upload, list, read, delete, reindex)."""

import logging

import functions_framework.aio
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.accounts.principal import Principal
from shared.api.operation import operations
from shared.content import contracts as c
from shared.content.service import ContentService
from shared.errors import BadRequest, LengthRequired, PayloadTooLarge
from shared.http import Router, endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("content")
log = logging.getLogger("protostar.content")
NO_STORE = {"Cache-Control": "no-store"}
MULTIPART_OVERHEAD = 64 * 1024


async def _service() -> ContentService:
    res = get_resources("content")
    return ContentService(
        await res.pool(),
        res.object_store(),
        max_bytes=res.settings.max_upload_bytes,
        broker_url=res.settings.broker_url,
    )


async def _file(request: Request, limit: int) -> tuple[str | None, bytes]:
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise LengthRequired("send the file as multipart/form-data with a Content-Length")
    if int(length) > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(
            f"the upload is over the limit of {limit:,} bytes", code="file_too_large"
        )
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest(
            "send the file as multipart/form-data, field 'file'", code="unsupported_media_type"
        )
    try:
        form = await request.form(max_files=1, max_fields=4)
    except (HTTPException, MultiPartException) as exc:
        raise BadRequest(f"the multipart body is malformed: {exc}", code="bad_multipart") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise BadRequest("the multipart field 'file' is missing", code="missing_file")
        data = await upload.read(limit + 1)
        return upload.filename, data
    finally:
        await form.close()


async def upload(request: Request, principal: Principal) -> Response:
    service = await _service()
    filename, data = await _file(request, service.max_bytes)
    body, _ = await service.upload(principal, request.path_params["bot"], filename, data)
    return JSONResponse(body, status_code=202, headers=NO_STORE)


async def list_documents(request: Request, principal: Principal) -> Response:
    docs = await (await _service()).list_documents(principal, request.path_params["bot"])
    return JSONResponse({"documents": docs}, headers=NO_STORE)


async def get_document(request: Request, principal: Principal) -> Response:
    doc = await (await _service()).get(
        principal, request.path_params["bot"], request.path_params["id"]
    )
    return JSONResponse(doc, headers=NO_STORE)


async def delete_document(request: Request, principal: Principal) -> Response:
    await (await _service()).delete(
        principal, request.path_params["bot"], request.path_params["id"]
    )
    return Response(status_code=204)


async def reindex(request: Request, principal: Principal) -> Response:
    body, _ = await (await _service()).reindex(
        principal, request.path_params["bot"], request.path_params.get("id")
    )
    return JSONResponse(body, status_code=202, headers=NO_STORE)


_op = operations("documents")
_DOC = {"id": {"description": "The document's id", "schema": {"type": "string", "format": "uuid"}}}
router = Router(
    [
        _op("POST", "/api/bots/{bot}/documents", upload,
            "Upload a career document (PDF, DOCX, Markdown, HTML, text; at most 10 MB); it is "
            "embedded in the background", op_id="uploadDocument",
            request_content=c.UPLOAD_BODY, responses={202: c.Uploaded},
            errors=(400, 401, 403, 404, 411, 413)),
        _op("GET", "/api/bots/{bot}/documents", list_documents,
            "The bot's documents and their status", op_id="listDocuments",
            responses={200: c.DocumentList}, errors=(401, 403, 404)),
        _op("GET", "/api/bots/{bot}/documents/{id}", get_document, "One document",
            op_id="getDocument", path_params=_DOC, responses={200: c.DocumentView},
            errors=(401, 403, 404)),
        _op("DELETE", "/api/bots/{bot}/documents/{id}", delete_document,
            "Delete a document: its original, chunks and vectors", op_id="deleteDocument",
            path_params=_DOC, responses={204: None}, errors=(401, 403, 404)),
        _op("POST", "/api/bots/{bot}/reindex", reindex,
            "Re-embed every document (after a model change)", op_id="reindexBot",
            responses={202: c.Reindexing}, errors=(401, 403, 404)),
        _op("POST", "/api/bots/{bot}/documents/{id}/reindex", reindex,
            "Re-embed one document (e.g. to retry one that failed)", op_id="reindexDocument",
            path_params=_DOC, responses={202: c.Reindexing}, errors=(401, 403, 404)),
    ]
)  # fmt: skip


@functions_framework.aio.http
@endpoint
async def content(request: Request) -> Response:
    return await router(request)
