-- Stepup schema, version 2: client acr settings, user attributes,
-- credentials and upstream links.

ALTER TABLE clients ADD COLUMN min_acr TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN acr_fallback INTEGER NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN nnin TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN birthdate TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_nnin ON users (nnin) WHERE nnin <> '';

CREATE TABLE credentials (
	id              TEXT    NOT NULL PRIMARY KEY,
	user_id         TEXT    NOT NULL,
	type            TEXT    NOT NULL,
	name            TEXT    NOT NULL,
	secret          BLOB    NOT NULL,
	counter         INTEGER NOT NULL,
	backup_eligible INTEGER NOT NULL,
	backup_state    INTEGER NOT NULL,
	user_verified   INTEGER NOT NULL,
	attested        INTEGER NOT NULL,
	aaguid          TEXT    NOT NULL,
	created_at      INTEGER,
	last_used_at    INTEGER
) STRICT;
CREATE INDEX credentials_user_id ON credentials (user_id, created_at);

CREATE TABLE links (
	upstream   TEXT NOT NULL,
	subject    TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	created_at INTEGER,
	PRIMARY KEY (upstream, subject)
) STRICT;
CREATE INDEX links_user_id ON links (user_id);
