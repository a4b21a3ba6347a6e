-- Conversations, their messages (one row per answered question) and feedback.
--
-- Who may see a row:
--   * the asker, named by set_config('app.asker', '<kind>:<subject>', true) where the
--     value comes only from a verified token: 'user:<uuid>' or 'guest:<visitor id>';
--   * the bot's owner, READ only, through set_config('app.user_id', ...) (insights,
--     the dashboard's conversation view, the digest).
-- bot_owner_id is kept on every row so a policy never needs a join; the pair
-- (bot_id, bot_owner_id) is a foreign key to bots, so it cannot lie.

CREATE TABLE conversations (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    bot_id       uuid        NOT NULL,
    bot_owner_id uuid        NOT NULL,
    asker        text        NOT NULL CHECK (asker ~ '^(user|guest):[A-Za-z0-9_-]{1,64}$'),
    -- Set for signed-in askers: deleting the account deletes their conversations.
    user_id      uuid        REFERENCES users (id) ON DELETE CASCADE,
    title        text        NOT NULL CHECK (char_length(title) <= 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (bot_id, bot_owner_id) REFERENCES bots (id, owner_id) ON DELETE CASCADE
);
CREATE INDEX conversations_asker ON conversations (asker, updated_at DESC);
CREATE INDEX conversations_bot ON conversations (bot_id, updated_at DESC);

CREATE TABLE messages (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    bot_id          uuid        NOT NULL,
    bot_owner_id    uuid        NOT NULL,
    asker           text        NOT NULL,
    question        text        NOT NULL CHECK (char_length(question) BETWEEN 1 AND 2000),
    -- The stand-alone form of a follow-up (what retrieval saw); = question on a first turn.
    standalone      text        NOT NULL CHECK (char_length(standalone) BETWEEN 1 AND 4000),
    language        text        NOT NULL CHECK (language ~ '^[a-z]{2,3}$'),
    answer          text        NOT NULL CHECK (char_length(answer) <= 20000),
    citations       jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(citations) = 'array'),
    answerable      boolean     NOT NULL,
    top_score       real,
    provider        text        NOT NULL CHECK (char_length(provider) <= 100),
    latency_ms      integer     NOT NULL CHECK (latency_ms >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (bot_id, bot_owner_id) REFERENCES bots (id, owner_id) ON DELETE CASCADE
);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at);
CREATE INDEX messages_bot_day ON messages (bot_id, created_at);

CREATE TABLE feedback (
    message_id   uuid        PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    bot_id       uuid        NOT NULL,
    bot_owner_id uuid        NOT NULL,
    asker        text        NOT NULL,
    rating       text        NOT NULL CHECK (rating IN ('up', 'down')),
    comment      text        CHECK (char_length(comment) <= 1000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (bot_id, bot_owner_id) REFERENCES bots (id, owner_id) ON DELETE CASCADE
);
CREATE INDEX feedback_bot ON feedback (bot_id, updated_at);

ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversations FORCE ROW LEVEL SECURITY;
ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
ALTER TABLE feedback ENABLE ROW LEVEL SECURITY;
ALTER TABLE feedback FORCE ROW LEVEL SECURITY;

CREATE POLICY conversations_asker ON conversations
    FOR ALL
    USING (asker = current_setting('app.asker', true))
    WITH CHECK (asker = current_setting('app.asker', true));
CREATE POLICY messages_asker ON messages
    FOR ALL
    USING (asker = current_setting('app.asker', true))
    WITH CHECK (asker = current_setting('app.asker', true));
CREATE POLICY feedback_asker ON feedback
    FOR ALL
    USING (asker = current_setting('app.asker', true))
    WITH CHECK (asker = current_setting('app.asker', true));

CREATE POLICY conversations_owner ON conversations
    FOR SELECT
    USING (bot_owner_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY messages_owner ON messages
    FOR SELECT
    USING (bot_owner_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY feedback_owner ON feedback
    FOR SELECT
    USING (bot_owner_id = nullif(current_setting('app.user_id', true), '')::uuid);

-- Answering a visitor needs the bot's private settings (persona, allowed origins) with
-- no signed-in owner: a SECURITY DEFINER lookup by slug, like bot_public (0004), that
-- returns only what the chat function uses and is never exposed over the API as is.
CREATE FUNCTION bot_for_answering(p_slug text)
RETURNS TABLE (
    id              uuid,
    owner_id        uuid,
    slug            text,
    name            text,
    persona         text,
    greeting        text,
    language        text,
    allowed_origins jsonb
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.public_lookup', 'on', true);
    RETURN QUERY
        SELECT b.id, b.owner_id, b.slug, b.name, b.persona, b.greeting, b.language,
               b.allowed_origins
        FROM public.bots AS b
        WHERE b.slug = p_slug;
    PERFORM set_config('app.public_lookup', 'off', true);
END
$$;

-- Slugs of bots by id (public data), for listing a visitor's conversations.
CREATE FUNCTION bot_slugs(p_ids uuid[])
RETURNS TABLE (id uuid, slug text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.public_lookup', 'on', true);
    RETURN QUERY SELECT b.id, b.slug FROM public.bots AS b WHERE b.id = ANY (p_ids);
    PERFORM set_config('app.public_lookup', 'off', true);
END
$$;
