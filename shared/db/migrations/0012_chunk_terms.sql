-- The postings of chunks' index terms: one row per (term, chunk) with the term's count in
-- the chunk, so talent search (shared/talent/search.py) finds the chunks holding a term,
-- and how often, from one covering index instead of reading (and de-TOASTing) the
-- `terms` array of every candidate chunk: at 10,000 people that read was 3.8 s a search.
--
-- Kept by triggers on chunks, in the same transaction as the chunk itself: whatever
-- writes chunks (the embed step, a reindex, a restore, the bench's bulk load) keeps its
-- postings right, and a chunk's deletion (directly or by cascade from its document, bot
-- or owner) removes them by the foreign key.
--
-- Row-level security as on chunks: the rows of the owner's bots (the trigger writes as
-- the owner's transaction), and, for a talent search (`app.talent` on), the rows of
-- discoverable bots (read only). Visitors' answering never reads this table. Both by
-- bot, so that the covering index holds all a policy reads (no owner column: 6 million
-- postings at 10,000 people, every byte a row counts).

CREATE TABLE chunk_terms (
    term            text        NOT NULL,
    chunk_id        bigint      NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    bot_id          uuid        NOT NULL,
    tf              integer     NOT NULL CHECK (tf > 0),
    -- Covering: a search reads postings from the index alone, row-level security's
    -- predicate included.
    PRIMARY KEY (term, chunk_id) INCLUDE (bot_id, tf)
);
-- The cascade from a deleted chunk.
CREATE INDEX chunk_terms_chunk ON chunk_terms (chunk_id);

ALTER TABLE chunk_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunk_terms FORCE ROW LEVEL SECURITY;
CREATE POLICY chunk_terms_owner ON chunk_terms
    FOR ALL
    USING (bot_id IN (SELECT b.id FROM bots AS b WHERE b.owner_id
                      = nullif(current_setting('app.user_id', true), '')::uuid))
    WITH CHECK (bot_id IN (SELECT b.id FROM bots AS b WHERE b.owner_id
                           = nullif(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY chunk_terms_talent_reader ON chunk_terms
    FOR SELECT
    USING (current_setting('app.talent', true) = 'on'
           AND bot_id IN (SELECT t.id FROM talent_bots() AS t));

CREATE FUNCTION chunk_terms_insert() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    INSERT INTO chunk_terms (term, chunk_id, bot_id, tf)
    SELECT t.term, n.id, n.bot_id, count(*)
    FROM inserted AS n CROSS JOIN LATERAL unnest(n.terms) AS t(term)
    GROUP BY t.term, n.id, n.bot_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER chunks_terms_insert AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION chunk_terms_insert();

-- Chunks are replaced, not edited; should a statement ever change a chunk's terms (or
-- move it), its postings follow.
CREATE FUNCTION chunk_terms_update() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    DELETE FROM chunk_terms WHERE chunk_id = OLD.id;
    INSERT INTO chunk_terms (term, chunk_id, bot_id, tf)
    SELECT t.term, NEW.id, NEW.bot_id, count(*)
    FROM unnest(NEW.terms) AS t(term)
    GROUP BY t.term;
    RETURN NULL;
END
$$;
CREATE TRIGGER chunks_terms_update AFTER UPDATE OF terms, bot_id ON chunks
    FOR EACH ROW
    WHEN (OLD.terms IS DISTINCT FROM NEW.terms OR OLD.bot_id <> NEW.bot_id)
    EXECUTE FUNCTION chunk_terms_update();

-- The chunks stored before this migration. The owner role is itself subject to the
-- chunks' row-level security (FORCE), which would hide every row from it here: lifted for
-- this one statement, in this transaction only.
ALTER TABLE chunks NO FORCE ROW LEVEL SECURITY;
ALTER TABLE chunk_terms NO FORCE ROW LEVEL SECURITY;
INSERT INTO chunk_terms (term, chunk_id, bot_id, tf)
SELECT t.term, c.id, c.bot_id, count(*)
FROM chunks AS c CROSS JOIN LATERAL unnest(c.terms) AS t(term)
GROUP BY t.term, c.id, c.bot_id;
ALTER TABLE chunks FORCE ROW LEVEL SECURITY;
ALTER TABLE chunk_terms FORCE ROW LEVEL SECURITY;
