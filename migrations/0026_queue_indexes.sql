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

-- queue_recipients_queue (queue_id) repeats the leading column of the
-- unique index on (queue_id, recipient), which serves every lookup by
-- message (the claim, the cascade of a removal, the queue tools); it cost
-- an index insert at each recipient's queuing and each attempt's result.
DROP INDEX queue_recipients_queue;

-- A queue worker's results, its notices, the removal of a finished
-- message and its next claim go to PostgreSQL in one batch, one implicit
-- transaction (store.FinishQueue): the results' statement ends with this
-- check, whose error (SQLSTATE MH001, store.ErrLeaseLost) rolls the whole
-- batch back when a recipient's lease was no longer the worker's.
CREATE FUNCTION queue_lease_held(held boolean) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF NOT held THEN
		RAISE EXCEPTION 'queue lease lost' USING ERRCODE = 'MH001';
	END IF;
END $$;
