-- Notifications (the notify function): a bot's Discord webhook that Discord says is
-- gone, and the ledger that makes each notification one message per event and channel.

-- After Discord answers 404 (Unknown Webhook) or 401 (Invalid Webhook Token) for a
-- bot's webhook, notify stops using it and says why; the owner sees both in the bot's
-- owner view, and setting a webhook again (PATCH) clears them.
ALTER TABLE bots
    ADD COLUMN discord_webhook_disabled_at     timestamptz,
    ADD COLUMN discord_webhook_disabled_reason text
        CHECK (char_length(discord_webhook_disabled_reason) <= 500),
    ADD CONSTRAINT bots_webhook_disabled_has_reason
        CHECK ((discord_webhook_disabled_at IS NULL) = (discord_webhook_disabled_reason IS NULL));

-- One row per (event, channel) that notify handled: the key of "one message per event".
--
-- A delivery holds a transaction-level advisory lock on its key for as long as it
-- sends (on a connection of its own, so a crash releases it at once), reads its row,
-- sends what is left, and commits progress after EVERY message Discord accepts (a long
-- notification is several messages: `parts_sent` of `parts_total`). A redelivery that
-- arrives meanwhile waits for the lock, then finds the row finished and sends nothing.
--
-- The crash window, chosen: a crash after the remote side accepted a message and before
-- its progress is committed makes the redelivery send THAT message again (at least
-- once, never lost). Recording before sending would turn that into at most once, and a
-- lost password-reset mail is worse than a repeated one. Mails carry a Message-ID
-- derived from the event, so mail systems can fold the repeat.
--
-- Nothing secret is stored: `target` names a webhook by its id and a mail by the
-- recipient's user id (never the webhook token, the address or a reset link), `error`
-- is a status line with addresses removed.
CREATE TABLE notifications (
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    -- 'discord:operator', 'discord:bot', 'email:user', 'email:owner'
    channel      text        NOT NULL CHECK (channel ~ '^[a-z]+:[a-z_]+$'),
    event_type   text        NOT NULL,
    target       text        NOT NULL DEFAULT '',
    -- sending: not finished (a delivery is at it, or the last one failed transiently);
    -- sent; failed: permanently (e.g. SMTP 5xx, Discord 404), not retried; logged: no
    -- channel configured, so the message went to the log.
    status       text        NOT NULL DEFAULT 'sending'
                             CHECK (status IN ('sending', 'sent', 'failed', 'logged')),
    parts_total  integer     CHECK (parts_total >= 0),
    parts_sent   integer     NOT NULL DEFAULT 0 CHECK (parts_sent >= 0),
    remote_ids   text[]      NOT NULL DEFAULT '{}',   -- Discord message ids, in order
    attempts     integer     NOT NULL DEFAULT 0,
    error        text        CHECK (char_length(error) <= 1000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    PRIMARY KEY (source, event_id, channel),
    CHECK ((status = 'sending') = (finished_at IS NULL))
);
CREATE INDEX notifications_unfinished ON notifications (created_at) WHERE status = 'sending';
CREATE INDEX notifications_failed ON notifications (finished_at) WHERE status = 'failed';

-- notify learns a bot's owner from the bot's id (document.failed names only the bot),
-- then reads and changes the bot as that owner, under the ordinary `bots_owner` policy.
-- Only the owner id crosses the row-level security boundary here, never a column of
-- the bot; like bot_public() it runs as the owner role, through the narrow
-- `bots_public_lookup` policy that exists only while `app.public_lookup` is 'on'.
CREATE FUNCTION bot_owner_id(p_bot_id uuid)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner uuid;
BEGIN
    PERFORM set_config('app.public_lookup', 'on', true);
    SELECT b.owner_id INTO v_owner FROM public.bots AS b WHERE b.id = p_bot_id;
    PERFORM set_config('app.public_lookup', 'off', true);
    RETURN v_owner;
END
$$;
