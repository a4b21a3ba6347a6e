-- The origins allowed to embed a bot, for anyone: the web function puts them in the chat
-- page's `Content-Security-Policy: frame-ancestors`, and the public endpoints answer CORS
-- for exactly them. Browsers see these origins in those headers anyway, so they are
-- public by nature; the rest of the row stays private.
--
-- Same construction as bot_public (0004): SECURITY DEFINER as the owner role, which
-- FORCEd row-level security lets read bots only through the `bots_public_lookup` policy
-- while `app.public_lookup` is 'on' (transaction-local, switched off again at once),
-- search_path pinned. Only one column comes back.
CREATE FUNCTION bot_allowed_origins(p_slug text)
RETURNS TABLE (allowed_origins jsonb)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.public_lookup', 'on', true);
    RETURN QUERY
        SELECT b.allowed_origins
        FROM public.bots AS b
        WHERE b.slug = p_slug;
    PERFORM set_config('app.public_lookup', 'off', true);
END
$$;
