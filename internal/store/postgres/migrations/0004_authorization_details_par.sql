-- Stepup schema, version 4: rich authorization requests (RFC 9396) on codes
-- and grants, and pushed authorization requests (RFC 9126).

ALTER TABLE codes ADD COLUMN authorization_details text NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN authorization_details text NOT NULL DEFAULT '';

CREATE TABLE pushed_requests (
	hash       text        NOT NULL PRIMARY KEY,
	client_id  text        NOT NULL,
	payload    bytea       NOT NULL,
	created_at timestamptz,
	expires_at timestamptz
);
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
