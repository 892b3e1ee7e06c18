-- What the IMAP extensions need from the index, shared by every session
-- and node: expunge tombstones (CONDSTORE/QRESYNC, RFC 7162), UIDVALIDITY
-- that grows for every folder created (RFC 3501 2.3.1.1), subscriptions
-- apart from folders (RFC 3501 6.3.6, RFC 9051 6.3.7), the \Recent
-- watermark (RFC 3501 2.3.2) and object ids (RFC 8474).

-- One row per message removed from a folder (EXPUNGE, MOVE's source, POP3
-- QUIT, adoption's DropMissing, reindex), written in the transaction that
-- removes it, with the folder's HIGHESTMODSEQ of that removal: QRESYNC's
-- VANISHED (EARLIER) of a client that last saw modseq m is the UIDs with
-- modseq > m. UIDs are never reused in a folder, so (folder_id, uid) is a key.
CREATE TABLE expunged_messages (
    folder_id bigint NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    uid       bigint NOT NULL CHECK (uid > 0 AND uid < 4294967296),
    modseq    bigint NOT NULL CHECK (modseq > 0),
    PRIMARY KEY (folder_id, uid)
);
CREATE INDEX expunged_messages_modseq ON expunged_messages (folder_id, modseq);

-- vanished_floor: every removal with a modseq above it has its tombstone
--   (older ones were pruned, or happened before this migration); a client
--   that last saw a modseq below it gets the full list instead (RFC 7162
--   3.2.5.1).
-- tombstones: how many expunged_messages rows the folder has, so pruning
--   needs no count.
-- recent_uid: the highest UID already \Recent in some session; the UIDs
--   above it are \Recent in the next IMAP4rev1 session that claims them.
-- mailboxid: the folder's MAILBOXID (RFC 8474): kept by RENAME, new for
--   every folder created.
ALTER TABLE folders
    ADD COLUMN vanished_floor bigint NOT NULL DEFAULT 0 CHECK (vanished_floor >= 0),
    ADD COLUMN tombstones     integer NOT NULL DEFAULT 0 CHECK (tombstones >= 0),
    ADD COLUMN recent_uid     bigint NOT NULL DEFAULT 0 CHECK (recent_uid >= 0),
    ADD COLUMN mailboxid      uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE;
UPDATE folders f SET vanished_floor = highestmodseq,
    recent_uid = coalesce((SELECT min(uid) - 1 FROM messages m WHERE m.folder_id = f.id AND m.subdir = 'new'),
                          uidnext - 1);

-- EMAILID (RFC 8474): kept when a message moves (the row in the new folder
-- takes it), new for a message appended or delivered.
ALTER TABLE messages ADD COLUMN emailid uuid NOT NULL DEFAULT gen_random_uuid();

-- UIDVALIDITY: each folder created takes the next value of its mailbox's
-- counter, max(now in epoch seconds, last value + 1), so a folder deleted
-- and created again, within one second too, gets a larger value, as RFC
-- 3501 2.3.1.1 asks. The counter lives on the mailbox row, which a folder
-- insert therefore locks: level 1 of the lock order, before the folder.
ALTER TABLE mailboxes ADD COLUMN last_uidvalidity bigint NOT NULL DEFAULT 0
    CHECK (last_uidvalidity >= 0 AND last_uidvalidity < 4294967296);
UPDATE mailboxes mb SET last_uidvalidity = coalesce(
    (SELECT max(uidvalidity) FROM folders f WHERE f.mailbox_id = mb.id), 0);

CREATE FUNCTION next_uidvalidity(mailbox bigint) RETURNS bigint LANGUAGE sql AS $$
    UPDATE mailboxes
    SET last_uidvalidity = greatest(extract(epoch FROM clock_timestamp())::bigint, last_uidvalidity + 1)
    WHERE id = mailbox
    RETURNING last_uidvalidity
$$;

-- A folder inserted without a uidvalidity (every store method) takes the
-- next one; one given explicitly (a restore) is kept, and the counter goes
-- past it.
ALTER TABLE folders ALTER COLUMN uidvalidity DROP DEFAULT;
CREATE FUNCTION folders_uidvalidity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.uidvalidity IS NULL THEN
        NEW.uidvalidity := next_uidvalidity(NEW.mailbox_id);
    ELSE
        UPDATE mailboxes SET last_uidvalidity = greatest(last_uidvalidity, NEW.uidvalidity)
        WHERE id = NEW.mailbox_id AND NEW.uidvalidity > 0 AND NEW.uidvalidity < 4294967296;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER folders_uidvalidity BEFORE INSERT ON folders
    FOR EACH ROW EXECUTE FUNCTION folders_uidvalidity();

-- Subscriptions are names, not folders: SUBSCRIBE of a name that does not
-- exist is allowed, DELETE keeps the subscription (LIST answers
-- \Subscribed \NonExistent), RENAME moves it.
CREATE TABLE subscriptions (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name <> ''),
    PRIMARY KEY (mailbox_id, name)
);
INSERT INTO subscriptions (mailbox_id, name) SELECT mailbox_id, name FROM folders WHERE subscribed;
ALTER TABLE folders DROP COLUMN subscribed;
