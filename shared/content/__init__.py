"""Career documents of a bot: upload, list, read, delete, reindex."""
