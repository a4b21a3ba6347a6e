-- What the dead-letter sink needs to give up on a document honestly.
--
-- embed_event: the dev.protostar.document.uploaded event the document waits on (set by
-- upload and reindex). A dead letter of an OLDER event (a reindex has been asked for
-- since) must not fail the document the newer event is about to process.
-- embed_attempts: how many times the embed step started on it since that event was
-- recorded, for the human reason ("could not be processed after 6 attempts: ...").
ALTER TABLE documents
    ADD COLUMN embed_event    text,
    ADD COLUMN embed_attempts integer NOT NULL DEFAULT 0;
