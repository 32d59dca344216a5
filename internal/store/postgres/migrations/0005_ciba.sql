-- Stepup schema, version 5: client-initiated backchannel authentication
-- requests (OpenID CIBA Core 1.0).

CREATE TABLE ciba_requests (
	id                    text        NOT NULL PRIMARY KEY,
	client_id             text        NOT NULL,
	user_id               text        NOT NULL,
	scope                 text        NOT NULL,
	acr_values            text[]      NOT NULL,
	binding_message       text        NOT NULL,
	authorization_details text        NOT NULL,
	mode                  text        NOT NULL,
	notification_token    text        NOT NULL,
	status                text        NOT NULL,
	acr                   text        NOT NULL,
	amr                   text[]      NOT NULL,
	auth_time             timestamptz,
	interval_seconds      integer     NOT NULL,
	last_polled_at        timestamptz,
	created_at            timestamptz,
	expires_at            timestamptz,
	decided_at            timestamptz,
	grant_id              text        NOT NULL,
	redeemed_at           timestamptz
);
CREATE INDEX ciba_requests_user_id_status ON ciba_requests (user_id, status);
CREATE INDEX ciba_requests_expires_at ON ciba_requests (expires_at);
