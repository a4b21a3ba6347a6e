"""embed: on dev.protostar.document.uploaded, extract, chunk and embed the document and
store its chunks, terms and vectors in one transaction (idempotent under redelivery)."""

import logging

import functions_framework.aio

from shared.content.embedding import process
from shared.embeddings import EmbeddingProvider
from shared.embeddings.factory import provider_from_settings
from shared.events.cloudevent import BadEvent, CloudEvent
from shared.events.receive import cloudevent_endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("embed")
log = logging.getLogger("protostar.embed")
_provider: EmbeddingProvider | None = None


@functions_framework.aio.http
@cloudevent_endpoint
async def embed(event: CloudEvent) -> None:
    global _provider
    if event.type != "dev.protostar.document.uploaded":
        raise BadEvent(f"embed does not consume {event.type}", code="unexpected_event_type")
    res = get_resources("embed")
    _provider = _provider or provider_from_settings(res.settings)
    pool = await res.pool()
    outcome = await process(
        pool, res.object_store(), _provider, event, sink=res.settings.broker_url
    )
    log.info("document processed", extra={"event_id": event.id, "outcome": outcome})
