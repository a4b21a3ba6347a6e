"""provider_from_settings: which provider the settings ask for."""

from __future__ import annotations

import pytest

from shared.embeddings.factory import provider_from_settings
from shared.embeddings.gemini import GeminiEmbedder
from shared.embeddings.local import LocalEmbedder
from shared.errors import SettingsError
from shared.settings import load_settings


def test_auto_is_gemini_when_a_key_is_set() -> None:
    provider = provider_from_settings(
        load_settings(gemini_api_key="AIza-test", embedding_dimensions=768)
    )
    assert isinstance(provider, GeminiEmbedder)
    assert provider.name == "gemini:gemini-embedding-001@768"
    assert provider.dimensions == 768
    assert "AIza-test" not in repr(provider)


def test_auto_is_the_local_embedder_without_a_key() -> None:
    provider = provider_from_settings(
        load_settings(gemini_api_key=None, embedder_url="http://127.0.0.1:9999/")
    )
    assert isinstance(provider, LocalEmbedder)
    assert provider.name == "local:all-MiniLM-L6-v2"
    assert provider.dimensions == 384
    assert provider.base_url == "http://127.0.0.1:9999"


def test_the_embedder_url_is_the_only_way_to_the_embedder_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Knative injects no service addresses: the ConfigMap's EMBEDDER_URL is the way."""
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("EMBEDDING_PROVIDER", raising=False)
    monkeypatch.delenv("EMBEDDER_URL", raising=False)
    monkeypatch.setenv("SERVICE_URL_EMBEDDER", "http://127.0.0.1:8123")
    assert load_settings().embedder_url is None
    monkeypatch.setenv("EMBEDDER_URL", "http://127.0.0.1:8124")
    provider = provider_from_settings(load_settings())
    assert isinstance(provider, LocalEmbedder)
    assert provider.base_url == "http://127.0.0.1:8124"


def test_explicit_choices() -> None:
    local = provider_from_settings(
        load_settings(embedding_provider="local", gemini_api_key="AIza-test")
    )
    assert isinstance(local, LocalEmbedder)
    gemini = provider_from_settings(
        load_settings(
            embedding_provider="gemini",
            gemini_api_key="AIza-test",
            gemini_embedding_model="gemini-embedding-001",
            embedding_dimensions=1536,
        )
    )
    assert gemini.name == "gemini:gemini-embedding-001@1536"
    with pytest.raises(SettingsError, match="GEMINI_API_KEY"):
        provider_from_settings(load_settings(embedding_provider="gemini", gemini_api_key=None))
    with pytest.raises(SettingsError, match="LOCAL_EMBEDDING_MODEL"):
        provider_from_settings(
            load_settings(embedding_provider="local", local_embedding_model="bge-m3")
        )
