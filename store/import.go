package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ImportedMessage is a message file taken over from another server, with
// the identity that server gave it: its IMAP UID (0 for one the server had
// not numbered yet, which takes the folder's next UID) and its POP3
// unique-id ("" for the native one).
type ImportedMessage struct {
	Key, Subdir, Filename string
	Flags, Keywords       []string
	Size                  int64
	InternalDate          time.Time
	UID                   uint32
	POP3UIDL              string
}

// ImportResult is what ImportMessages added.
type ImportResult struct {
	Added int   // rows inserted
	Bytes int64 // their size, charged to the mailbox
	// Refused are the keys not inserted: the folder already has the key
	// (a second run) or another message with that UID.
	Refused []string
}

// ImportFolder returns the folder name of a mailbox, creating it (and its
// subscription, when subscribe) with that UIDVALIDITY when missing (0:
// the next of the mailbox's counter, as CreateIMAPFolder). created tells
// whether it was made now; an existing folder keeps its own UIDVALIDITY,
// which the caller compares.
func (s *Store) ImportFolder(ctx context.Context, mailboxID int64, name, specialUse string, uidvalidity uint32) (f IMAPFolder, created bool, err error) {
	var su *string
	if specialUse != "" {
		su = &specialUse
	}
	var uv *int64
	if uidvalidity != 0 {
		v := int64(uidvalidity)
		uv = &v
	}
	f, err = scanIMAPFolder(s.pool.QueryRow(ctx, `INSERT INTO folders (mailbox_id, name, special_use, uidvalidity)
		VALUES ($1, $2, $3, $4) ON CONFLICT (mailbox_id, name) DO NOTHING RETURNING `+imapFolderCols,
		mailboxID, name, su, uv))
	if errors.Is(err, pgx.ErrNoRows) {
		f, err = s.IMAPFolder(ctx, mailboxID, name)
		return f, false, err
	}
	return f, err == nil, translate(err, "import folder")
}

// FolderKeys returns the Maildir keys of a folder's messages with their
// UIDs, for an import to tell what it already took.
func (s *Store) FolderKeys(ctx context.Context, folderID int64) (map[string]uint32, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, uid FROM messages WHERE folder_id = $1`, folderID)
	if err != nil {
		return nil, translate(err, "folder keys")
	}
	defer rows.Close()
	out := map[string]uint32{}
	for rows.Next() {
		var k string
		var uid int64
		if err := rows.Scan(&k, &uid); err != nil {
			return nil, translate(err, "folder keys")
		}
		out[k] = uint32(uid)
	}
	return out, translate(rows.Err(), "folder keys")
}

// ImportMessages indexes message files taken over from another server into
// a folder of mailbox mailboxID, in one transaction under the lock order
// (mailbox, then folder): messages with a UID keep it, those without take
// UIDs from max(the folder's UIDNEXT, uidnext, their largest UID + 1) in
// order; the folder's UIDNEXT becomes larger than every UID and at least
// uidnext (the old server's next UID, so no UID it ever gave is given
// again); one HIGHESTMODSEQ step; the imported messages are not \Recent
// (the old server's clients saw them); their size is charged to the mailbox
// without a quota check (the mail was already there). A key or a UID the
// folder already has is refused, not replaced.
func (s *Store) ImportMessages(ctx context.Context, mailboxID, folderID int64, msgs []ImportedMessage, uidnext uint32) (ImportResult, error) {
	var res ImportResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = ImportResult{}
		if err := lockRows(ctx, tx, mailboxID, folderID); err != nil {
			return err
		}
		var next, modseq int64
		if err := tx.QueryRow(ctx, `UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = $1
			RETURNING uidnext, highestmodseq`, folderID).Scan(&next, &modseq); err != nil {
			return err
		}
		next = max(next, int64(uidnext))
		for _, m := range msgs {
			next = max(next, int64(m.UID)+1)
		}
		n := len(msgs)
		uids, keys, subdirs, names := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
		flags, kws, uidls := make([]string, n), make([]string, n), make([]string, n)
		sizes, dates := make([]int64, n), make([]time.Time, n)
		for i, m := range msgs {
			uids[i] = int64(m.UID)
			if m.UID == 0 {
				uids[i] = next
				next++
			}
			keys[i], subdirs[i], names[i] = m.Key, m.Subdir, m.Filename
			flags[i], kws[i], uidls[i] = strings.Join(m.Flags, " "), strings.Join(m.Keywords, " "), m.POP3UIDL
			sizes[i], dates[i] = m.Size, m.InternalDate
		}
		rows, err := tx.Query(ctx, `
			INSERT INTO messages (folder_id, uid, modseq, key, subdir, filename, flags, keywords, size, internal_date, pop3_uidl)
			SELECT $1, t.uid, $2, t.key, t.subdir, t.filename, string_to_array(t.flags, ' '),
				string_to_array(t.kws, ' '), t.size, t.idate, nullif(t.uidl, '')
			FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[],
				$10::timestamptz[], $11::text[]) AS t(uid, key, subdir, filename, flags, kws, size, idate, uidl)
			ON CONFLICT DO NOTHING
			RETURNING key, size`, folderID, modseq, uids, keys, subdirs, names, flags, kws, sizes, dates, uidls)
		if err != nil {
			return err
		}
		added := map[string]bool{}
		for rows.Next() {
			var k string
			var size int64
			if err := rows.Scan(&k, &size); err != nil {
				rows.Close()
				return err
			}
			added[k] = true
			res.Added++
			res.Bytes += size
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			if !added[k] {
				res.Refused = append(res.Refused, k)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE folders SET uidnext = greatest(uidnext, $2),
			recent_uid = greatest(recent_uid, $2 - 1) WHERE id = $1`, folderID, min(next, 1<<32)); err != nil {
			return err
		}
		if err := charge(ctx, tx, mailboxID, int64(res.Added), res.Bytes, false); err != nil {
			return err
		}
		return notifyFolder(ctx, tx, folderID, "new")
	})
	return res, translate(err, "import messages")
}
