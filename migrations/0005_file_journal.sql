-- File operations whose index side and disk side are not done together.
-- A row is written in the same transaction as the index change and deleted
-- once the files match, so a crash between the two is finished (never
-- undone) by whoever reconciles the folder next:
--   'remove': the message rows are gone (EXPUNGE, MOVE's source, POP3
--             QUIT); the file with this key is to be unlinked, never adopted.
--   'add':    a file with this key is being linked into the folder (MOVE,
--             COPY) and is not indexed yet; if the row never comes, the
--             file is unlinked, never adopted.
-- node names who wrote the row (the host of its Maildir file names), so a
-- restarted node knows which 'add' rows were its own and died with it.
CREATE TABLE pending_files (
    folder_id  bigint NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    key        text NOT NULL CHECK (key <> '' AND key !~ '[/:]'),
    op         text NOT NULL CHECK (op IN ('remove', 'add')),
    node       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (folder_id, key)
);

-- Folders deleted from the index whose directory may still be on disk
-- (DELETE, a crash before the directory went): the directory is removed,
-- never adopted back as a folder.
CREATE TABLE pending_folder_deletes (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox_id, name)
);
