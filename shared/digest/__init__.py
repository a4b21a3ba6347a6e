"""The daily digest: yesterday's activity (Asia/Seoul day) of each bot, one
``dev.protostar.digest.compiled`` event per bot and day."""
