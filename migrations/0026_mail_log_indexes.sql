-- The mail log's search (store.SearchMailLog) ORs exact matches on the
-- queue id, queue row and Message-ID with prefix matches on lower(sender)
-- and lower(recipient), which no index serves, so PostgreSQL reads the
-- log backwards by mail_log_at and filters: these five indexes were never
-- used, and each cost an index insert for every row, three rows a
-- message (bench/submission.sh). mail_log_at stays: the search and the
-- pruning use it.
DROP INDEX mail_log_queue_id;
DROP INDEX mail_log_queue_row;
DROP INDEX mail_log_message_id;
DROP INDEX mail_log_recipient;
DROP INDEX mail_log_sender;
