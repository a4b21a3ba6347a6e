-- Daily digests (the digest function, at 09:00 Asia/Seoul): one row per bot and day
-- that a digest event was recorded for, written in the same transaction as its outbox
-- row, so a re-run of the same day emits nothing new (and two concurrent runs wait on
-- each other's row instead of both emitting).

CREATE TABLE digests (
    bot_id       uuid        NOT NULL,
    bot_owner_id uuid        NOT NULL,
    day          date        NOT NULL,
    event_id     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, day),
    FOREIGN KEY (bot_id, bot_owner_id) REFERENCES bots (id, owner_id) ON DELETE CASCADE
);

ALTER TABLE digests ENABLE ROW LEVEL SECURITY;
ALTER TABLE digests FORCE ROW LEVEL SECURITY;
CREATE POLICY digests_owner ON digests
    FOR ALL
    USING (bot_owner_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (bot_owner_id = nullif(current_setting('app.user_id', true), '')::uuid);

-- The digest job runs as the app role under row-level security, one transaction per
-- bot owner (set_config('app.user_id', owner, true)), reading only that owner's rows.
-- To know WHICH owners to visit without reading anyone's rows, it asks
-- digest_owners(from, to): the owners whose bots got a question or feedback in that
-- window, and nothing else (no bot, no text, no count). Same shape as bot_public
-- (0004): a SECURITY DEFINER function running as the owner role, which FORCE binds to
-- RLS too, so it gets one narrow SELECT policy per table, only for itself and only
-- while `app.activity_lookup` is 'on' (transaction-local; the function turns it on
-- around its one query). search_path is pinned.
DO $$
BEGIN
    EXECUTE format(
        'CREATE POLICY messages_activity_lookup ON messages FOR SELECT TO %I '
        'USING (current_setting(''app.activity_lookup'', true) = ''on'')',
        current_user);
    EXECUTE format(
        'CREATE POLICY feedback_activity_lookup ON feedback FOR SELECT TO %I '
        'USING (current_setting(''app.activity_lookup'', true) = ''on'')',
        current_user);
END
$$;

CREATE FUNCTION digest_owners(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (owner_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.activity_lookup', 'on', true);
    RETURN QUERY
        SELECT m.bot_owner_id FROM public.messages AS m
        WHERE m.created_at >= p_from AND m.created_at < p_to
        UNION
        SELECT f.bot_owner_id FROM public.feedback AS f
        WHERE f.created_at >= p_from AND f.created_at < p_to;
    PERFORM set_config('app.activity_lookup', 'off', true);
END
$$;

-- The day's rows of every bot at once (the per-bot indexes lead with bot_id).
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX feedback_created ON feedback (created_at);
