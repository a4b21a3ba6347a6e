-- Talent search: HR users search across every bot whose owner turned `discoverable` on.
--
-- What a search may read is decided here, not in the code that searches:
--
-- * talent_bots() is the one list of searchable people: the id, slug, name and owner id
--   (to record appearances; never shown) of each discoverable bot, nothing else of the row (the persona, the webhook, the origins
--   stay private). Same construction as bot_public (0004): SECURITY DEFINER as the
--   owner role, which FORCEd row-level security lets read bots only through the
--   `bots_public_lookup` policy while `app.public_lookup` is 'on' (switched off again at
--   once), search_path pinned.
-- * A transaction that sets `app.talent` to 'on' (transaction-local, by the talent
--   function) may READ the chunks and documents of those bots and nothing else; a bot
--   whose owner turns discoverable off drops out of the very next statement.
-- * It may record that a person appeared in a search (talent_appearances), for those
--   bots only; the owner reads their own appearances (Insights), never who searched.
--
-- A user's saved searches are theirs alone and immutable: a policy to read and one to
-- insert, none to change (an account's deletion removes them by cascade).

CREATE FUNCTION talent_bots()
RETURNS TABLE (id uuid, slug text, name text, owner_id uuid)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.public_lookup', 'on', true);
    RETURN QUERY
        SELECT b.id, b.slug, b.name, b.owner_id
        FROM public.bots AS b
        WHERE b.discoverable;
    PERFORM set_config('app.public_lookup', 'off', true);
END
$$;

CREATE POLICY chunks_talent_reader ON chunks
    FOR SELECT
    USING (current_setting('app.talent', true) = 'on'
           AND bot_id IN (SELECT t.id FROM talent_bots() AS t));
CREATE POLICY documents_talent_reader ON documents
    FOR SELECT
    USING (current_setting('app.talent', true) = 'on'
           AND bot_id IN (SELECT t.id FROM talent_bots() AS t));

CREATE TABLE talent_searches (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    query           text        NOT NULL CHECK (char_length(query) BETWEEN 1 AND 500),
    -- [{id, text, kind, type, enabled, ...}] as the search ran (shared/talent/criteria.py)
    criteria        jsonb       NOT NULL CHECK (jsonb_typeof(criteria) = 'array'),
    result_limit    integer     NOT NULL CHECK (result_limit BETWEEN 1 AND 50),
    -- {people_searched, matched, shown}: people, at the time of the search
    counts          jsonb       NOT NULL CHECK (jsonb_typeof(counts) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX talent_searches_user ON talent_searches (user_id, created_at DESC, id);

ALTER TABLE talent_searches ENABLE ROW LEVEL SECURITY;
ALTER TABLE talent_searches FORCE ROW LEVEL SECURITY;
CREATE POLICY talent_searches_read ON talent_searches
    FOR SELECT
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY talent_searches_insert ON talent_searches
    FOR INSERT
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);

-- One row per person shown by a search: the owner's Insights count how often they
-- appeared and for which criteria. Not linked to talent_searches by a foreign key: the
-- searcher deleting their account must not erase the owner's history, and the owner
-- never learns who searched.
CREATE TABLE talent_appearances (
    search_id       uuid        NOT NULL,
    bot_id          uuid        NOT NULL,
    owner_id        uuid        NOT NULL,
    rank            integer     NOT NULL CHECK (rank >= 1),
    score           real        NOT NULL,
    -- [{text, kind, type, verdict}] of the enabled criteria, for this person
    criteria        jsonb       NOT NULL CHECK (jsonb_typeof(criteria) = 'array'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (search_id, bot_id),
    FOREIGN KEY (bot_id, owner_id) REFERENCES bots (id, owner_id) ON DELETE CASCADE
);
CREATE INDEX talent_appearances_bot ON talent_appearances (bot_id, created_at);

ALTER TABLE talent_appearances ENABLE ROW LEVEL SECURITY;
ALTER TABLE talent_appearances FORCE ROW LEVEL SECURITY;
CREATE POLICY talent_appearances_owner ON talent_appearances
    FOR SELECT
    USING (owner_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY talent_appearances_record ON talent_appearances
    FOR INSERT
    WITH CHECK (current_setting('app.talent', true) = 'on'
                AND bot_id IN (SELECT t.id FROM talent_bots() AS t));
