-- Stepup schema, version 2: client acr settings, user attributes,
-- credentials and upstream links.

ALTER TABLE clients ADD COLUMN min_acr text NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN acr_fallback boolean NOT NULL DEFAULT false;

ALTER TABLE users ADD COLUMN nnin text NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone text NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN birthdate text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_nnin ON users (nnin) WHERE nnin <> '';

CREATE TABLE credentials (
	id              text        NOT NULL PRIMARY KEY,
	user_id         text        NOT NULL,
	type            text        NOT NULL,
	name            text        NOT NULL,
	secret          bytea       NOT NULL,
	counter         bigint      NOT NULL,
	backup_eligible boolean     NOT NULL,
	backup_state    boolean     NOT NULL,
	user_verified   boolean     NOT NULL,
	attested        boolean     NOT NULL,
	aaguid          text        NOT NULL,
	created_at      timestamptz,
	last_used_at    timestamptz
);
CREATE INDEX credentials_user_id ON credentials (user_id, created_at);

CREATE TABLE links (
	upstream   text        NOT NULL,
	subject    text        NOT NULL,
	user_id    text        NOT NULL,
	created_at timestamptz,
	PRIMARY KEY (upstream, subject)
);
CREATE INDEX links_user_id ON links (user_id);
