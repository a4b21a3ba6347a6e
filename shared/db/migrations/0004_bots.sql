-- Bots: a protostar's career bot (its widget settings). One row per bot; `slug` is the
-- bot's public name in URLs (`/api/bots/{bot}`) and in the widget snippet.
--
-- Tenant isolation is row-level security, ENABLED and FORCED (the owner role is bound
-- by it too). Functions connect as the app role, which is not superuser, cannot bypass
-- RLS and owns nothing; each transaction says whose rows it may touch with
--     SELECT set_config('app.user_id', '<user uuid>', true)   -- transaction-local
-- Without that setting (or with another user's id) a bot is invisible, even to a raw
-- `SELECT * FROM bots`, and cannot be inserted, changed or deleted.

CREATE TABLE bots (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id            uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- A lower-case DNS label of 3..40 characters, no leading, trailing or double hyphen.
    slug                text        NOT NULL UNIQUE
                                    CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$'
                                           AND strpos(slug, '--') = 0),
    name                text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
    -- Owner-written instructions that shape answers: private, never in the public view.
    persona             text        NOT NULL DEFAULT '' CHECK (char_length(persona) <= 2000),
    greeting            text        NOT NULL DEFAULT '' CHECK (char_length(greeting) <= 500),
    suggested_questions jsonb       NOT NULL DEFAULT '[]'
                                    CHECK (jsonb_typeof(suggested_questions) = 'array'
                                           AND jsonb_array_length(suggested_questions) <= 6
                                           AND NOT jsonb_path_exists(
                                               suggested_questions,
                                               '$[*] ? (@.type() != "string")')),
    language            text        NOT NULL DEFAULT 'auto'
                                    CHECK (language IN ('ko', 'en', 'auto')),
    -- Exact origins (scheme://host[:port]) allowed to embed the widget.
    allowed_origins     jsonb       NOT NULL DEFAULT '[]'
                                    CHECK (jsonb_typeof(allowed_origins) = 'array'
                                           AND jsonb_array_length(allowed_origins) <= 20
                                           AND NOT jsonb_path_exists(
                                               allowed_origins,
                                               '$[*] ? (@.type() != "string")')),
    discoverable        boolean     NOT NULL DEFAULT false,
    discord_webhook     text        CHECK (discord_webhook ~
        '^https://(discord\.com|discordapp\.com)/api/webhooks/[0-9]{1,25}/[A-Za-z0-9_-]{1,128}$'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bots_owner ON bots (owner_id, created_at);

ALTER TABLE bots ENABLE ROW LEVEL SECURITY;
ALTER TABLE bots FORCE ROW LEVEL SECURITY;

-- The owner path: every command, only the rows of the user named by `app.user_id`.
-- An unset setting reads as NULL, and as '' once a transaction-local value has gone
-- out of scope: both match no row. WITH CHECK stops a row being written for, or
-- handed over to, anyone else.
CREATE POLICY bots_owner ON bots
    FOR ALL
    USING (owner_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (owner_id = nullif(current_setting('app.user_id', true), '')::uuid);

-- The public path (the widget reads a bot without any signed-in user).
--
-- Chosen: a SECURITY DEFINER function that returns ONLY the public columns of one bot
-- by slug. Rejected: a SELECT policy keyed on a second setting such as `app.bot_slug`,
-- because RLS filters rows, not columns: any code that sets that setting could then
-- `SELECT *` and read the persona, the allowed origins, the Discord webhook (a secret)
-- and the owner id. With the function, the database itself decides which columns are
-- public, and the app role has no way at all to read a row it does not own.
--
-- The function runs as the owner role (the migration role, which creates it). FORCE
-- binds that role to RLS as well, so it gets one narrow SELECT policy: only for itself,
-- and only while `app.public_lookup` is 'on', which the function turns on around its one
-- query (transaction-local; an error aborts the transaction or savepoint, which resets
-- it too). The app role cannot use that policy (it is not the owner role and cannot
-- become it), and the owner role connecting directly sees no bot either. (A `SET` clause
-- on the function would be neater, but PostgreSQL lets only a superuser attach an
-- unregistered `app.*` setting to a function.) search_path is pinned, as any SECURITY
-- DEFINER function's must be.
DO $$
BEGIN
    EXECUTE format(
        'CREATE POLICY bots_public_lookup ON bots FOR SELECT TO %I '
        'USING (current_setting(''app.public_lookup'', true) = ''on'')',
        current_user);
END
$$;

CREATE FUNCTION bot_public(p_slug text)
RETURNS TABLE (
    slug                text,
    name                text,
    greeting            text,
    suggested_questions jsonb,
    language            text
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.public_lookup', 'on', true);
    RETURN QUERY
        SELECT b.slug, b.name, b.greeting, b.suggested_questions, b.language
        FROM public.bots AS b
        WHERE b.slug = p_slug;
    PERFORM set_config('app.public_lookup', 'off', true);
END
$$;
-- EXECUTE stays with PUBLIC (the default): what it returns is public by design, and the
-- migration runner grants the app role DML on tables only.
