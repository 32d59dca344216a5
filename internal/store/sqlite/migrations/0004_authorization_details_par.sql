-- Stepup schema, version 4: rich authorization requests (RFC 9396) on codes
-- and grants, and pushed authorization requests (RFC 9126).

ALTER TABLE codes ADD COLUMN authorization_details TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN authorization_details TEXT NOT NULL DEFAULT '';

CREATE TABLE pushed_requests (
	hash       TEXT NOT NULL PRIMARY KEY,
	client_id  TEXT NOT NULL,
	payload    BLOB NOT NULL,
	created_at INTEGER,
	expires_at INTEGER
) STRICT;
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
