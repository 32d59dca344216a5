-- Stepup schema, version 1. Tables are created in the connection's
-- current schema (search_path). NULL times are the zero time; durations
-- are bigint nanoseconds.

CREATE TABLE clients (
	id                           text        NOT NULL PRIMARY KEY,
	name                         text        NOT NULL,
	secret_hash                  text        NOT NULL,
	redirect_uris                text[]      NOT NULL,
	post_logout_redirect_uris    text[]      NOT NULL,
	grant_types                  text[]      NOT NULL,
	token_endpoint_auth_method   text        NOT NULL,
	id_token_signed_response_alg text        NOT NULL,
	access_token_ttl             bigint      NOT NULL,
	id_token_ttl                 bigint      NOT NULL,
	refresh_token_ttl            bigint      NOT NULL,
	static                       boolean     NOT NULL,
	created_at                   timestamptz,
	updated_at                   timestamptz
);

CREATE TABLE users (
	id            text        NOT NULL PRIMARY KEY,
	username      text        NOT NULL UNIQUE,
	password_hash text        NOT NULL,
	email         text        NOT NULL,
	name          text        NOT NULL,
	disabled      boolean     NOT NULL,
	created_at    timestamptz,
	updated_at    timestamptz
);

CREATE TABLE sessions (
	id          text        NOT NULL PRIMARY KEY,
	handle_hash text        NOT NULL UNIQUE,
	user_id     text        NOT NULL,
	created_at  timestamptz,
	expires_at  timestamptz,
	-- last seq handed out in session_events; bumped under the row lock
	event_seq   bigint      NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user_id ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE session_events (
	session_id text   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	seq        bigint NOT NULL,
	event      jsonb  NOT NULL,
	PRIMARY KEY (session_id, seq)
);

CREATE TABLE codes (
	hash                  text        NOT NULL PRIMARY KEY,
	client_id             text        NOT NULL,
	redirect_uri          text        NOT NULL,
	user_id               text        NOT NULL,
	session_id            text        NOT NULL,
	scope                 text        NOT NULL,
	nonce                 text        NOT NULL,
	code_challenge        text        NOT NULL,
	code_challenge_method text        NOT NULL,
	acr                   text        NOT NULL,
	amr                   text[]      NOT NULL,
	auth_time             timestamptz,
	created_at            timestamptz,
	expires_at            timestamptz,
	grant_id              text        NOT NULL,
	consumed_at           timestamptz
);
CREATE INDEX codes_expires_at ON codes (expires_at);

CREATE TABLE grants (
	id         text        NOT NULL PRIMARY KEY,
	client_id  text        NOT NULL,
	user_id    text        NOT NULL,
	session_id text        NOT NULL,
	scope      text        NOT NULL,
	acr        text        NOT NULL,
	amr        text[]      NOT NULL,
	auth_time  timestamptz,
	created_at timestamptz,
	expires_at timestamptz,
	revoked_at timestamptz
);
CREATE INDEX grants_expires_at ON grants (expires_at);

CREATE TABLE refresh_tokens (
	hash       text        NOT NULL PRIMARY KEY,
	grant_id   text        NOT NULL,
	client_id  text        NOT NULL,
	created_at timestamptz,
	expires_at timestamptz,
	used_at    timestamptz
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE keys (
	id         text        NOT NULL PRIMARY KEY,
	use        text        NOT NULL,
	alg        text        NOT NULL,
	private    bytea       NOT NULL,
	created_at timestamptz,
	retired_at timestamptz,
	expires_at timestamptz
);
CREATE INDEX keys_expires_at ON keys (expires_at);
