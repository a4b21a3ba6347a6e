-- Career documents and their chunks (text, BM25 terms, vectors), row-level secured.
--
-- Each transaction names its tenant with set_config('app.user_id', ..., true) (the owner:
-- dashboard, upload, embedding) or, for visitors' questions, set_config('app.bot_id', ...)
-- which only READS one bot's chunks and documents' public fields. owner_id is kept on
-- every row so a policy never needs a join.

-- A document's bot must belong to the document's owner: the pair is a foreign key, so
-- no code path can file a row under someone else's bot (FK checks bypass RLS).
ALTER TABLE bots ADD CONSTRAINT bots_id_owner_key UNIQUE (id, owner_id);

CREATE TABLE documents (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    bot_id          uuid        NOT NULL,
    owner_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title           text        NOT NULL CHECK (char_length(title) <= 300),
    filename        text        NOT NULL CHECK (char_length(filename) <= 255),
    media_type      text        NOT NULL,
    size            bigint      NOT NULL CHECK (size > 0),
    sha256          text        NOT NULL,
    object_key      text        NOT NULL,
    status          text        NOT NULL DEFAULT 'uploaded'
                                CHECK (status IN ('uploaded', 'processing', 'ready', 'failed')),
    error           text        CHECK (char_length(error) <= 1000),
    chunk_count     integer     NOT NULL DEFAULT 0,
    embedding_model text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (bot_id, owner_id) REFERENCES bots (id, owner_id) ON DELETE CASCADE
);
CREATE INDEX documents_bot ON documents (bot_id, created_at);

CREATE TABLE chunks (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id     uuid        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    bot_id          uuid        NOT NULL,
    owner_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ordinal         integer     NOT NULL,
    title           text        NOT NULL,
    section         text        NOT NULL DEFAULT '',
    language        text        NOT NULL,
    text            text        NOT NULL,
    terms           text[]      NOT NULL DEFAULT '{}',
    embedding_model text        NOT NULL,
    embedding       vector      NOT NULL,
    UNIQUE (document_id, ordinal),
    FOREIGN KEY (bot_id, owner_id) REFERENCES bots (id, owner_id) ON DELETE CASCADE
);
CREATE INDEX chunks_bot ON chunks (bot_id);
CREATE INDEX chunks_terms ON chunks USING gin (terms);
-- One HNSW index per embedding space (pgvector indexes need a fixed dimension); a query
-- uses the same cast and predicate. Vectors of two models never meet in one index.
CREATE INDEX chunks_embedding_local ON chunks
    USING hnsw ((embedding::vector(384)) vector_cosine_ops)
    WHERE embedding_model = 'local:all-MiniLM-L6-v2';
CREATE INDEX chunks_embedding_gemini ON chunks
    USING hnsw ((embedding::vector(768)) vector_cosine_ops)
    WHERE embedding_model = 'gemini:gemini-embedding-001@768';

ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
ALTER TABLE chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunks FORCE ROW LEVEL SECURITY;

CREATE POLICY documents_owner ON documents
    FOR ALL
    USING (owner_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (owner_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY chunks_owner ON chunks
    FOR ALL
    USING (owner_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (owner_id = nullif(current_setting('app.user_id', true), '')::uuid);
-- Answering a visitor: read one bot's chunks and documents, nothing else, never write.
CREATE POLICY documents_bot_reader ON documents
    FOR SELECT
    USING (bot_id = nullif(current_setting('app.bot_id', true), '')::uuid);
CREATE POLICY chunks_bot_reader ON chunks
    FOR SELECT
    USING (bot_id = nullif(current_setting('app.bot_id', true), '')::uuid);
