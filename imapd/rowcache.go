package imapd

import (
	"time"

	"mailhost/store"
)

// rowCacheBytes bounds the node's cache of index rows (about 200 bytes
// a message).
const rowCacheBytes = 8 << 20

// rowKey names a message's index row: a UID under its folder's
// UIDVALIDITY never names another message (RFC 3501 2.3.1.1).
type rowKey struct {
	folder   int64
	validity uint32
	uid      uint32
}

// rowInfo is what a FETCH needs of a message's row apart from its flags
// and modseq, which change: the file's key, size and dates, its EMAILID
// (all fixed for the row's life), and the file's name when last seen:
// this node's flag changes rename it here too (renamedRows); a name
// another node's change made stale is found again by its key
// (maildir.Folder.Open).
type rowInfo struct {
	key, subdir, filename string
	size                  int64
	internal, saved       time.Time
	emailID, threadID     string
}

func (r rowInfo) cost() int {
	return 160 + len(r.key) + len(r.subdir) + len(r.filename) + len(r.emailID) + len(r.threadID)
}

func rowInfoOf(m *store.IMAPMessage) rowInfo {
	return rowInfo{key: m.Key, subdir: m.Subdir, filename: m.Filename, size: m.Size, internal: m.InternalDate,
		saved: m.SaveDate, emailID: m.EmailID, threadID: m.ThreadID}
}

// rowKeyOf is the cache key of uid in the selected folder.
func (sel *selected) rowKeyOf(uid uint32) rowKey {
	return rowKey{folder: sel.folder.ID, validity: sel.folder.UIDValidity, uid: uid}
}

// cachedRows returns the messages of uids that the node's row cache
// holds, with the flags this session knows, and the UIDs it lacks.
func (s *session) cachedRows(uids []uint32) (msgs []store.IMAPMessage, missing []uint32) {
	sel, rows := s.sel, s.srv.caches.rows
	for _, uid := range uids {
		i := int(sel.seqOf(uid)) - 1
		r, ok := rows.get(sel.rowKeyOf(uid))
		if i < 0 || !ok {
			missing = append(missing, uid)
			continue
		}
		flags, keywords := sel.appendCachedFlags(nil, i)
		msgs = append(msgs, store.IMAPMessage{UID: uid, Key: r.key, Subdir: r.subdir, Filename: r.filename,
			Flags: flags, Keywords: keywords, Size: r.size, InternalDate: r.internal, SaveDate: r.saved,
			EmailID: r.emailID, ThreadID: r.threadID})
	}
	return msgs, missing
}

// rememberRows caches the rows the index gave, replacing what the cache
// had: their file names are the index's latest, also after another node's
// flag change.
func (s *session) rememberRows(msgs []store.IMAPMessage) {
	for i := range msgs {
		r := rowInfoOf(&msgs[i])
		s.srv.caches.rows.replace(s.sel.rowKeyOf(msgs[i].UID), r, r.cost())
	}
}

// renamedRows records the files this session's flag changes renamed.
func (s *session) renamedRows(sel *selected, changes []store.FlagChange) {
	rows := s.srv.caches.rows
	for _, c := range changes {
		if c.NewName == c.OldName {
			continue
		}
		k := sel.rowKeyOf(c.UID)
		if r, ok := rows.get(k); ok {
			r.filename, r.subdir = c.NewName, "cur"
			rows.replace(k, r, r.cost())
		}
	}
}
