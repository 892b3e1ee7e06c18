-- One queue id per message, as Postfix's: the id of the 250 reply, the
-- Received field and every mail log line is stored on the message's queue
-- rows. Copies of one message (forwarded copies with their own sender)
-- share it; bounces and other notices get their own. Rows queued before
-- this migration get an id made from their row number: twenty hex digits
-- whose time part is zero, so no id made from a clock equals one.
ALTER TABLE queue ADD COLUMN queue_id text;
UPDATE queue SET queue_id = lpad(upper(to_hex(id)), 20, '0');
ALTER TABLE queue ALTER COLUMN queue_id SET NOT NULL;
ALTER TABLE queue ADD CONSTRAINT queue_queue_id_format CHECK (queue_id ~ '^[0-9A-F]{20}$');
CREATE INDEX queue_queue_id ON queue (queue_id);
