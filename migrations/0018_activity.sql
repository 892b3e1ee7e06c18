-- What happened, for the dashboard's graphs and the mail log page: counts
-- per minute and per hour (counters add up, gauges keep the last sample),
-- per domain or for the whole server (domain ''), and one row per mail
-- event. Pruned by age (mailhost serve, hourly).
CREATE TABLE stats_minute (
	at     timestamptz NOT NULL,
	metric text NOT NULL,
	domain text NOT NULL DEFAULT '',
	value  bigint NOT NULL,
	PRIMARY KEY (metric, domain, at)
);

CREATE TABLE stats_hour (
	at     timestamptz NOT NULL,
	metric text NOT NULL,
	domain text NOT NULL DEFAULT '',
	value  bigint NOT NULL,
	PRIMARY KEY (metric, domain, at)
);

CREATE TABLE mail_log (
	id        bigserial PRIMARY KEY,
	at        timestamptz NOT NULL,
	event     text NOT NULL,           -- accepted, delivered, sent, deferred, bounced, rejected, queued, held, discarded
	queue_id  text NOT NULL DEFAULT '', -- the id of the 250 reply
	queue_row text NOT NULL DEFAULT '', -- the outbound queue's row, when there is one
	message_id text NOT NULL DEFAULT '',
	sender    text NOT NULL DEFAULT '',
	recipient text NOT NULL DEFAULT '',
	domains   text[] NOT NULL DEFAULT '{}', -- hosted domains it concerns (a domain admin sees these)
	detail    text NOT NULL DEFAULT '',
	client    text NOT NULL DEFAULT ''
);
CREATE INDEX mail_log_at ON mail_log (at);
CREATE INDEX mail_log_queue_id ON mail_log (queue_id) WHERE queue_id <> '';
CREATE INDEX mail_log_queue_row ON mail_log (queue_row) WHERE queue_row <> '';
CREATE INDEX mail_log_message_id ON mail_log (message_id) WHERE message_id <> '';
CREATE INDEX mail_log_recipient ON mail_log (recipient text_pattern_ops);
CREATE INDEX mail_log_sender ON mail_log (sender text_pattern_ops);
