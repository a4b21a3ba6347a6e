"""Embeddings behind one interface: Gemini (google-genai) or the offline local model
served by the ``embedder`` function (the only process that imports torch).

Vectors of different models are never mixed: ``EmbeddingProvider.name`` is stored with
every chunk, and retrieval embeds the query with the provider that embedded the bot.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Literal

Task = Literal["document", "query"]


class EmbeddingProvider(abc.ABC):
    #: Stable identity of the vector space, e.g. ``local:all-MiniLM-L6-v2`` or
    #: ``gemini:gemini-embedding-001@768``.
    name: str
    dimensions: int

    @abc.abstractmethod
    async def embed(self, texts: Sequence[str], *, task: Task = "document") -> list[list[float]]:
        """One unit-length vector per text, in order."""

    async def close(self) -> None:
        return None
