"""Cold paths stay light: importing the embeddings package, its providers and the
factory (and building a provider) loads neither torch nor google.genai; neither does
importing the embedder function, whose model loads on its first request."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("torch", "sentence_transformers", "transformers", "google.genai")

PROBE = """
import json, sys
import shared.embeddings, shared.embeddings.local, shared.embeddings.gemini
import shared.embeddings.factory, shared.embeddings.model
from shared.embeddings.factory import provider_from_settings
from shared.settings import load_settings
provider_from_settings(load_settings(gemini_api_key="AIza-test"))
provider_from_settings(load_settings(gemini_api_key=None, embedder_url="http://127.0.0.1:1"))
from functions_framework.aio import create_asgi_app
create_asgi_app("embedder", "functions/embedder/main.py")
print(json.dumps({name: name in sys.modules for name in HEAVY}))
"""


def test_importing_providers_and_the_embedder_function_loads_no_model_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == dict.fromkeys(HEAVY, False)
