-- Events: the transactional outbox, consumer idempotency, the local broker's durable
-- queues (the embedded backend) and the dead letters kept for inspection and replay.

-- A producer inserts here in the same transaction as its domain change; the event is
-- sent after commit and re-sent by outbox-relay until the broker accepts it.
CREATE TABLE outbox (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    source       text        NOT NULL,
    type         text        NOT NULL,
    subject      text,
    data         jsonb,
    traceparent  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

-- A consumer records (consumer, source, id) in the same transaction as its effect, so a
-- redelivered event is a no-op.
CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source, event_id)
);

-- The embedded broker backend: one row per (event, trigger) still to deliver.
CREATE TABLE broker_messages (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    broker          text        NOT NULL,
    trigger_name    text        NOT NULL,
    attributes      jsonb       NOT NULL,
    data            bytea,
    enqueued_at     timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    not_before      timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz
);
CREATE INDEX broker_messages_queue ON broker_messages (broker, trigger_name, seq);

-- Events that exhausted their retries, with the knativeerror* extensions.
CREATE TABLE dead_letters (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     text        NOT NULL,
    source       text        NOT NULL,
    type         text        NOT NULL,
    destination  text        NOT NULL DEFAULT '',
    error_code   text,
    error_data   text,
    attributes   jsonb       NOT NULL,
    data         bytea,
    received_at  timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,
    UNIQUE (source, event_id, destination)
);
