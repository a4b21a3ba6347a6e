-- Where a question came from, so the owner's Insights can count how often someone who
-- found the bot in a talent search then asked it (issue #18, appearances).
--
-- 'direct': the chat page or the widget as opened; 'talent': the chat page opened from a
-- talent search's "ask this person" link (its `via=talent` marker, sent with the question
-- and checked by the ask contract, shared/chat/contracts.py). The marker says where the
-- page was opened from, nothing of who searched: talent_appearances keeps no searcher,
-- and no link between a search and a question is stored.
--
-- A constant default: existing rows read 'direct' without a rewrite of the table.

ALTER TABLE messages
    ADD COLUMN source text NOT NULL DEFAULT 'direct'
        CONSTRAINT messages_source CHECK (source IN ('direct', 'talent'));

-- Insights count the few questions that came through talent search, per bot and window.
CREATE INDEX messages_bot_talent ON messages (bot_id, created_at) WHERE source = 'talent';
