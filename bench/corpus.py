"""The synthetic corpus of the retrieval benches (ask, recall, peer): N chunks over B
bots in a throw-away embedded PostgreSQL 18 + pgvector, built once per process.

Deterministic (one seed). Generated on the fly, nothing downloaded:

- Bots: 1,000 (full) or 50 (quick), each with an owner and one document. Three bots
  hold 1% of all chunks each and three hold 0.1% each (the recall bench's classes);
  the rest share what is left in log-normal sizes (a few big bots, many small ones).
- Vectors: 384-dim unit vectors with structure, like real sentence embeddings: each
  chunk is ``topic + 0.7 * bot + noise`` normalised, where ``topic`` is one of 200
  global topics (a bot writes about 8 of them) and ``bot`` is the bot's own
  direction. Same bot and topic: cosine ~0.6; same topic, other bot: ~0.4; else ~0.
  Uniform random vectors would be the unrealistic worst case for any ANN index.
- Text and terms: ~80 pseudo-words per chunk in sentences, from a 20,000-word
  vocabulary drawn with Zipf's law (s = 1.07) plus 20% from the bot's own 50 words;
  each word is one term of the real analyzer (``shared.documents.lexical.terms``),
  so ``terms`` is exactly what the embed step would store for that text.
- Questions: for a chosen chunk of a bot, 3-4 of its rarer words ("What about w1 w2
  w3?") and a query vector ``chunk + noise`` (cosine ~0.75 to it), so both legs find
  the bot's content, as a real question would.

Loading: as the superuser of the throw-away cluster (it bypasses row-level security;
the application role still reads under it), with the chunk indexes dropped, binary
COPY, then the indexes rebuilt from their own definitions (HNSW last) and ANALYZE.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import struct
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MODEL = "local:all-MiniLM-L6-v2"  # the vector space of migration 0005's partial HNSW index
DIMS = 384
SEED = 20240314
TOPICS = 200
TOPICS_PER_BOT = 8
VOCABULARY = 20_000
BOT_WORDS = 50
WORDS_PER_CHUNK = 80
BIG_SHARE = 0.01  # the recall bench's "1%" bots
SMALL_SHARE = 0.001  # and its "0.1%" bots
CLASS_BOTS = 3  # bots in each of those two classes


@dataclass(frozen=True)
class Size:
    chunks: int
    bots: int


FULL = Size(100_000, 1_000)
QUICK = Size(5_000, 50)


@dataclass
class Bot:
    id: str
    owner_id: str
    slug: str
    first: int  # index of its first chunk in the generated arrays
    count: int
    topics: np.ndarray


@dataclass
class Question:
    bot: Bot
    text: str
    vector: list[float]


@dataclass
class Corpus:
    size: Size
    root: Path
    server: Any  # EmbeddedPostgres
    superuser_url: str
    owner_url: str
    app_url: str
    app_role: str
    bots: list[Bot]
    vectors: np.ndarray  # float32 [chunks, DIMS], unit length
    words: list[str]  # surface words, index = vocabulary id
    chunk_words: list[np.ndarray]  # word ids of each chunk
    load_seconds: dict[str, float] = field(default_factory=dict)

    def bots_of_share(self, share: float) -> list[Bot]:
        want = max(1, round(self.size.chunks * share))
        return [b for b in self.bots[: 2 * CLASS_BOTS] if b.count == want]

    def questions(self, bots: list[Bot], n: int, seed: int) -> list[Question]:
        """``n`` questions spread over ``bots`` (deterministic for a seed)."""
        rng = np.random.default_rng(seed)
        out = []
        for i in range(n):
            bot = bots[i % len(bots)]
            chunk = bot.first + int(rng.integers(bot.count))
            ids = np.unique(self.chunk_words[chunk])
            rare = ids[np.argsort(-ids)][: max(6, len(ids) // 4)]
            picked = rng.choice(rare, size=int(rng.integers(3, 5)), replace=False)
            text = "What about " + " ".join(self.words[w] for w in picked) + "?"
            noise = rng.standard_normal(DIMS).astype(np.float32) / np.sqrt(DIMS)
            vec = self.vectors[chunk] + 0.9 * noise
            vec /= np.linalg.norm(vec)
            out.append(Question(bot, text, [float(x) for x in vec]))
        return out


_built: dict[Size, Corpus] = {}


def _vocabulary(rng: np.random.Generator) -> list[str]:
    """Pseudo-words that the real analyzer maps to one distinct term each."""
    from shared.documents.lexical import terms

    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(syllables, size=int(rng.integers(2, 5))))
        found = terms(word)
        if len(found) == 1 and found[0] == word and word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _bot_sizes(size: Size, rng: np.random.Generator) -> list[int]:
    big = max(1, round(size.chunks * BIG_SHARE))
    small = max(1, round(size.chunks * SMALL_SHARE))
    fixed = [big] * CLASS_BOTS + [small] * CLASS_BOTS
    rest = size.bots - len(fixed)
    left = size.chunks - sum(fixed)
    weights = rng.lognormal(0.0, 0.8, rest)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * left)).astype(int)
    sizes[: left - int(sizes.sum())] += 1  # exactly `left` in all
    # Keep the two classes unambiguous: no other bot of exactly those sizes.
    sizes[(sizes == big) | (sizes == small)] += 1
    sizes[-1] -= int(sizes.sum()) - left
    out = fixed + [int(s) for s in sizes]
    assert sum(out) == size.chunks, sum(out)
    assert min(out) >= 1, min(out)
    return out


def generate(size: Size) -> tuple[list[Bot], np.ndarray, list[str], list[np.ndarray]]:
    rng = np.random.default_rng(SEED)
    words = _vocabulary(rng)
    topics = rng.standard_normal((TOPICS, DIMS)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    sizes = _bot_sizes(size, rng)
    zipf = 1.0 / np.arange(1, VOCABULARY + 1) ** 1.07
    zipf /= zipf.sum()
    local = 1.0 / np.arange(1, BOT_WORDS + 1) ** 1.07
    local /= local.sum()
    bots: list[Bot] = []
    vectors = np.empty((size.chunks, DIMS), dtype=np.float32)
    chunk_words: list[np.ndarray] = []
    first = 0
    for i, count in enumerate(sizes):
        own = rng.standard_normal(DIMS).astype(np.float32)
        own /= np.linalg.norm(own)
        mine = rng.choice(TOPICS, size=TOPICS_PER_BOT, replace=False)
        which = mine[rng.integers(TOPICS_PER_BOT, size=count)]
        noise = rng.standard_normal((count, DIMS)).astype(np.float32)
        block = topics[which] + 0.7 * own + noise / np.sqrt(DIMS)
        vectors[first : first + count] = block / np.linalg.norm(block, axis=1, keepdims=True)
        vocab = rng.choice(np.arange(VOCABULARY // 4, VOCABULARY), size=BOT_WORDS, replace=False)
        ids = rng.choice(VOCABULARY, size=(count, WORDS_PER_CHUNK), p=zipf)
        from_bot = rng.random((count, WORDS_PER_CHUNK)) < 0.2
        ids[from_bot] = vocab[rng.choice(BOT_WORDS, size=int(from_bot.sum()), p=local)]
        chunk_words.extend(ids)
        ident = uuid.UUID(int=int(rng.integers(2**62)) << 64 | i)
        owner = uuid.UUID(int=int(rng.integers(2**62)) << 64 | (i + 1_000_000))
        bots.append(Bot(str(ident), str(owner), f"bench-bot-{i:04d}", first, count, mine))
        first += count
    return bots, vectors, words, chunk_words


def _text(words: list[str], ids: np.ndarray) -> str:
    out = []
    start = 0
    while start < len(ids):
        end = min(len(ids), start + 8 + (int(ids[start]) % 8))
        sentence = " ".join(words[w] for w in ids[start:end])
        out.append(sentence[0].upper() + sentence[1:] + ".")
        start = end
    return " ".join(out)


def _vector_dumper(oid: int) -> type:
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class VectorBinaryDumper(Dumper):
        """pgvector's binary input: dimensions (int16), unused (int16), float4s (BE)."""

        format = Format.BINARY

        def dump(self, obj: Any) -> bytes:
            arr = np.asarray(obj, dtype=">f4")
            return struct.pack(">HH", arr.shape[0], 0) + arr.tobytes()

    VectorBinaryDumper.oid = oid
    return VectorBinaryDumper


def _load(corpus: Corpus) -> None:
    import psycopg
    from psycopg.types import TypeInfo

    bots, vectors, words = corpus.bots, corpus.vectors, corpus.words
    timings = corpus.load_seconds
    with psycopg.connect(corpus.superuser_url) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chunks' "
            "AND indexname IN ('chunks_bot', 'chunks_terms', 'chunks_embedding_local')"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(psycopg.sql.SQL("DROP INDEX {}").format(psycopg.sql.Identifier(name)))
        started = time.perf_counter()
        with conn.cursor().copy("COPY users (id, email, password_hash, role) FROM STDIN") as copy:
            for b in bots:
                copy.write_row((b.owner_id, f"{b.slug}@bench.example", "x", "protostar"))
        with conn.cursor().copy("COPY bots (id, owner_id, slug, name) FROM STDIN") as copy:
            for b in bots:
                copy.write_row((b.id, b.owner_id, b.slug, f"Bench {b.slug[-4:]}"))
        documents = {b.id: str(uuid.UUID(int=uuid.UUID(b.id).int ^ 0xD0C)) for b in bots}
        with conn.cursor().copy(
            "COPY documents (id, bot_id, owner_id, title, filename, media_type, size, sha256, "
            "object_key, status, chunk_count, embedding_model) FROM STDIN"
        ) as copy:
            for b in bots:
                copy.write_row(
                    (
                        documents[b.id],
                        b.id,
                        b.owner_id,
                        f"Career of {b.slug}",
                        "resume.md",
                        "text/markdown",
                        1000,
                        "0" * 64,
                        f"bench/{b.id}",
                        "ready",
                        b.count,
                        MODEL,
                    )
                )
        vector = TypeInfo.fetch(conn, "vector")
        assert vector is not None
        conn.adapters.register_dumper(np.ndarray, _vector_dumper(vector.oid))
        term_of = words  # each word is its own single analyzer term (see _vocabulary)
        with conn.cursor().copy(
            "COPY chunks (document_id, bot_id, owner_id, ordinal, title, section, language, "
            "text, terms, embedding_model, embedding) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(
                [
                    "uuid",
                    "uuid",
                    "uuid",
                    "int4",
                    "text",
                    "text",
                    "text",
                    "text",
                    "text[]",
                    "text",
                    vector.oid,
                ]
            )
            for b in bots:
                doc = uuid.UUID(documents[b.id])
                bot_id, owner_id = uuid.UUID(b.id), uuid.UUID(b.owner_id)
                for j in range(b.count):
                    ids = corpus.chunk_words[b.first + j]
                    copy.write_row(
                        (
                            doc,
                            bot_id,
                            owner_id,
                            j,
                            f"Career of {b.slug}",
                            f"Part {j // 5 + 1}",
                            "en",
                            _text(words, ids),
                            [term_of[w] for w in ids],
                            MODEL,
                            vectors[b.first + j],
                        )
                    )
        conn.commit()
        timings["copy_s"] = round(time.perf_counter() - started, 1)
        # Secondary indexes first, HNSW last (the slow one), each from its own definition.
        for name, definition in sorted(indexes, key=lambda r: r[0] == "chunks_embedding_local"):
            started = time.perf_counter()
            conn.execute(definition)
            conn.commit()
            timings[f"index_{name}_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        conn.execute("ANALYZE users, bots, documents, chunks")
        conn.commit()
        timings["analyze_s"] = round(time.perf_counter() - started, 1)


def build(quick: bool) -> Corpus:
    """The corpus of this size, generated and loaded once per process."""
    size = QUICK if quick else FULL
    if size in _built:
        return _built[size]
    from localplatform.embedded.postgres import EmbeddedPostgres
    from shared.db import bootstrap
    from shared.db.migrate import migrate

    started = time.perf_counter()
    bots, vectors, words, chunk_words = generate(size)
    generated = time.perf_counter() - started
    root = Path(tempfile.mkdtemp(prefix="protostar-bench-corpus-"))
    root.chmod(0o755)  # the embedded server runs as its own user when we are root
    secret = secrets.token_urlsafe(16)  # a throw-away cluster
    server = EmbeddedPostgres(root / "pg", password=secret, fsync=False)
    server.start()

    def stop() -> None:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    roles = bootstrap.Roles(owner_password=secret + "o", app_password=secret + "a")
    bootstrap.bootstrap(server.url(), roles)
    owner_url = server.url(roles.owner, roles.owner_password, roles.database)
    migrate(owner_url, roles.app)
    corpus = Corpus(
        size=size,
        root=root,
        server=server,
        superuser_url=server.url(database=roles.database),
        owner_url=owner_url,
        app_url=server.url(roles.app, roles.app_password, roles.database),
        app_role=roles.app,
        bots=bots,
        vectors=vectors,
        words=words,
        chunk_words=chunk_words,
    )
    corpus.load_seconds["generate_s"] = round(generated, 1)
    _load(corpus)
    corpus.load_seconds["total_s"] = round(time.perf_counter() - started, 1)
    _built[size] = corpus
    return corpus
