"""The embedding provider the settings ask for; builds it without connecting anywhere."""

from __future__ import annotations

from shared.embeddings import EmbeddingProvider
from shared.errors import SettingsError
from shared.settings import Settings


def provider_from_settings(settings: Settings) -> EmbeddingProvider:
    """``EMBEDDING_PROVIDER``: ``gemini``, ``local``, or ``auto`` (Gemini when
    ``GEMINI_API_KEY`` is set, else the local model behind the embedder service).

    Nothing is imported or connected until the first ``embed`` call.
    """
    choice = settings.embedding_provider
    if choice == "auto":
        choice = "gemini" if settings.gemini_api_key else "local"
    if choice == "gemini":
        if not settings.gemini_api_key:
            raise SettingsError("GEMINI_API_KEY: is required when EMBEDDING_PROVIDER=gemini")
        from shared.embeddings.gemini import GeminiEmbedder

        return GeminiEmbedder(
            api_key=settings.gemini_api_key,
            model=settings.gemini_embedding_model,
            dimensions=settings.embedding_dimensions,
            base_url=settings.gemini_base_url,
            redis_url=settings.redis_url,
        )
    from shared.embeddings.local import LocalEmbedder

    return LocalEmbedder(settings.embedder_url, model=settings.local_embedding_model)
