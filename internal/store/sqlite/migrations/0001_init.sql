-- Stepup schema, version 1.
-- Times are INTEGER unix microseconds (UTC); NULL is the zero time.
-- Durations are INTEGER nanoseconds. Lists are JSON text.

CREATE TABLE clients (
	id                           TEXT    NOT NULL PRIMARY KEY,
	name                         TEXT    NOT NULL,
	secret_hash                  TEXT    NOT NULL,
	redirect_uris                TEXT    NOT NULL,
	post_logout_redirect_uris    TEXT    NOT NULL,
	grant_types                  TEXT    NOT NULL,
	token_endpoint_auth_method   TEXT    NOT NULL,
	id_token_signed_response_alg TEXT    NOT NULL,
	access_token_ttl             INTEGER NOT NULL,
	id_token_ttl                 INTEGER NOT NULL,
	refresh_token_ttl            INTEGER NOT NULL,
	static                       INTEGER NOT NULL,
	created_at                   INTEGER,
	updated_at                   INTEGER
) STRICT;

CREATE TABLE users (
	id            TEXT    NOT NULL PRIMARY KEY,
	username      TEXT    NOT NULL UNIQUE,
	password_hash TEXT    NOT NULL,
	email         TEXT    NOT NULL,
	name          TEXT    NOT NULL,
	disabled      INTEGER NOT NULL,
	created_at    INTEGER,
	updated_at    INTEGER
) STRICT;

CREATE TABLE sessions (
	id          TEXT    NOT NULL PRIMARY KEY,
	handle_hash TEXT    NOT NULL UNIQUE,
	user_id     TEXT    NOT NULL,
	created_at  INTEGER,
	expires_at  INTEGER,
	-- last seq handed out in session_events; bumped under the row's write lock
	event_seq   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE session_events (
	session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	event      TEXT    NOT NULL,
	PRIMARY KEY (session_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE codes (
	hash                  TEXT NOT NULL PRIMARY KEY,
	client_id             TEXT NOT NULL,
	redirect_uri          TEXT NOT NULL,
	user_id               TEXT NOT NULL,
	session_id            TEXT NOT NULL,
	scope                 TEXT NOT NULL,
	nonce                 TEXT NOT NULL,
	code_challenge        TEXT NOT NULL,
	code_challenge_method TEXT NOT NULL,
	acr                   TEXT NOT NULL,
	amr                   TEXT NOT NULL,
	auth_time             INTEGER,
	created_at            INTEGER,
	expires_at            INTEGER,
	grant_id              TEXT NOT NULL,
	consumed_at           INTEGER
) STRICT;
CREATE INDEX codes_expires_at ON codes (expires_at);

CREATE TABLE grants (
	id         TEXT NOT NULL PRIMARY KEY,
	client_id  TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	session_id TEXT NOT NULL,
	scope      TEXT NOT NULL,
	acr        TEXT NOT NULL,
	amr        TEXT NOT NULL,
	auth_time  INTEGER,
	created_at INTEGER,
	expires_at INTEGER,
	revoked_at INTEGER
) STRICT;
CREATE INDEX grants_expires_at ON grants (expires_at);

CREATE TABLE refresh_tokens (
	hash       TEXT NOT NULL PRIMARY KEY,
	grant_id   TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	created_at INTEGER,
	expires_at INTEGER,
	used_at    INTEGER
) STRICT;
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE keys (
	id         TEXT NOT NULL PRIMARY KEY,
	use        TEXT NOT NULL,
	alg        TEXT NOT NULL,
	private    BLOB NOT NULL,
	created_at INTEGER,
	retired_at INTEGER,
	expires_at INTEGER
) STRICT;
CREATE INDEX keys_expires_at ON keys (expires_at);
