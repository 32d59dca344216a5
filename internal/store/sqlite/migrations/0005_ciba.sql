-- Stepup schema, version 5: client-initiated backchannel authentication
-- requests (OpenID CIBA Core 1.0).

CREATE TABLE ciba_requests (
	id                    TEXT    NOT NULL PRIMARY KEY,
	client_id             TEXT    NOT NULL,
	user_id               TEXT    NOT NULL,
	scope                 TEXT    NOT NULL,
	acr_values            TEXT    NOT NULL,
	binding_message       TEXT    NOT NULL,
	authorization_details TEXT    NOT NULL,
	mode                  TEXT    NOT NULL,
	notification_token    TEXT    NOT NULL,
	status                TEXT    NOT NULL,
	acr                   TEXT    NOT NULL,
	amr                   TEXT    NOT NULL,
	auth_time             INTEGER,
	interval_seconds      INTEGER NOT NULL,
	last_polled_at        INTEGER,
	created_at            INTEGER,
	expires_at            INTEGER,
	decided_at            INTEGER,
	grant_id              TEXT    NOT NULL,
	redeemed_at           INTEGER
) STRICT;
CREATE INDEX ciba_requests_user_id_status ON ciba_requests (user_id, status);
CREATE INDEX ciba_requests_expires_at ON ciba_requests (expires_at);
