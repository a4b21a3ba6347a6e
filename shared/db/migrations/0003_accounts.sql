-- Accounts: users and roles, refresh-token families, invite codes, password resets.
-- Secrets (refresh tokens, invite codes, reset tokens) are stored only as SHA-256 hashes.

CREATE TABLE users (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email               text        NOT NULL CHECK (length(email) <= 254),
    password_hash       text        NOT NULL,
    display_name        text        CHECK (length(display_name) <= 100),
    role                text        NOT NULL DEFAULT 'stargazer'
                                    CHECK (role IN ('stargazer', 'protostar')),
    is_admin            boolean     NOT NULL DEFAULT false,
    locale              text        CHECK (locale IN ('ko', 'en')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- One row per refresh token ever issued (its id is the token's jti). A family is one
-- login; rotation links each token to its successor; reusing a rotated token revokes
-- the whole family. Ed25519 signatures are deterministic, so within the grace window
-- the successor is re-signed from its row instead of being stored in plain text.
CREATE TABLE refresh_tokens (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    family_id     uuid        NOT NULL,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash    bytea       NOT NULL UNIQUE,
    role          text        NOT NULL,
    is_admin      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    rotated_at    timestamptz,
    successor_id  uuid        REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE invites (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    code_hash     bytea       NOT NULL UNIQUE,
    hint          text        NOT NULL,
    issued_by     uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    redeemed_by   uuid        REFERENCES users (id) ON DELETE SET NULL,
    redeemed_at   timestamptz
);
CREATE INDEX invites_issued_by ON invites (issued_by);

CREATE TABLE password_resets (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash    bytea       NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id);
