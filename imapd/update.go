package imapd

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailhost/maildir"
	"mailhost/store"
)

// splitFlags separates IMAP system flags (canonical spelling) from
// keywords; \Recent is not storable and dropped (RFC 3501 2.3.2).
func splitFlags(flags []imap.Flag) (system, keywords []string, err error) {
	system, keywords = []string{}, []string{}
	for _, f := range flags {
		s := string(f)
		if strings.HasPrefix(s, `\`) {
			if strings.EqualFold(s, string(flagRecent)) {
				continue
			}
			c := maildir.FlagLetter(s)
			if c == 0 {
				return nil, nil, imapErr(imap.StatusResponseTypeBad, imap.ResponseCodeClientBug, "Unknown system flag "+s)
			}
			system = append(system, maildir.IMAPFlag(c))
			continue
		}
		keywords = append(keywords, s)
	}
	return system, keywords, nil
}

// storeFlags changes flags in the index, then renames the files to match
// (the index is the authority; the file name is a faithful copy).
func (s *session) storeFlags(sel *selected, uids []uint32, op store.FlagOp, flags []imap.Flag) ([]store.FlagChange, error) {
	system, keywords, err := splitFlags(flags)
	if err != nil {
		return nil, err
	}
	if op == store.FlagsAdd && len(system) == 0 && len(keywords) == 0 && flags != nil {
		return nil, nil
	}
	// The files are renamed inside the store's transaction, under the
	// rows' locks (see store.IMAPStoreFlags).
	rename := func(oldName, key string, flags []string) string {
		name, err := sel.dir.SetFlags(oldName, lettersOf(flags))
		if err != nil {
			s.logger().Warn("imap: rename message file for its flags", "file", oldName, "err", err)
			return maildir.FormatName(key, lettersOf(flags))
		}
		return name
	}
	changes, err := s.srv.opts.Backend.IMAPStoreFlags(s.ctx, sel.folder.ID, uids, op, system, keywords, rename)
	if err != nil {
		return nil, s.internal("store flags", err)
	}
	if len(changes) > 0 {
		if changes[0].ModSeq == sel.modseq+1 { // nothing else changed meanwhile
			sel.modseq = changes[0].ModSeq
		}
		s.srv.opts.Notices.Notify(sel.folder.ID)
	}
	return changes, nil
}

func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	sel := s.sel
	if sel.readOnly {
		return errReadOnly
	}
	uids := sel.resolve(numSet)
	if len(uids) == 0 {
		return nil
	}
	op := store.FlagsSet
	switch flags.Op {
	case imap.StoreFlagsAdd:
		op = store.FlagsAdd
	case imap.StoreFlagsDel:
		op = store.FlagsDel
	}
	fl := flags.Flags
	if fl == nil {
		fl = []imap.Flag{}
	}
	if _, err := s.storeFlags(sel, uids, op, fl); err != nil {
		return err
	}
	if flags.Silent {
		return nil
	}
	_, isUID := numSet.(imap.UIDSet)
	return s.fetchUIDs(w, uids, &imap.FetchOptions{Flags: true, UID: isUID})
}

func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	sel := s.sel
	if sel.readOnly {
		if *w == (imapserver.ExpungeWriter{}) { // CLOSE after EXAMINE expunges nothing
			return nil
		}
		return errReadOnly
	}
	var only []uint32
	if uids != nil {
		only = sel.resolve(*uids)
		if len(only) == 0 {
			return nil
		}
	}
	gone, err := s.srv.opts.Backend.IMAPExpunge(s.ctx, s.acct.MailboxID, sel.folder.ID, only)
	if err != nil {
		return s.internal("expunge", err)
	}
	s.removeFiles(sel, gone)
	if len(gone) == 0 {
		return nil
	}
	s.srv.opts.Notices.Notify(sel.folder.ID)
	quiet := *w == (imapserver.ExpungeWriter{}) // CLOSE: no untagged responses
	for i := len(gone) - 1; i >= 0; i-- {
		seq := sel.seqOf(gone[i].UID)
		if seq == 0 {
			continue
		}
		if !quiet {
			if err := w.WriteExpunge(seq); err != nil {
				return err
			}
		}
		sel.uids = slices.Delete(sel.uids, int(seq-1), int(seq))
	}
	return nil
}

// removeFiles deletes the files of expunged messages, after their rows.
func (s *session) removeFiles(sel *selected, gone []store.Expunged) {
	if len(gone) == 0 {
		return
	}
	names := make([]string, len(gone))
	for i, e := range gone {
		names[i] = e.Filename
	}
	if err := s.srv.opts.Files.Remove(s.ctx, sel.folder.ID, sel.dir, names); err != nil {
		s.logger().Warn("imap: remove expunged files", "folder", sel.folder.Name, "err", err)
	}
}

func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	f, err := s.folder(name)
	if errors.Is(err, errNoSuchFolder) {
		return nil, errTryCreate
	}
	if err != nil {
		return nil, err
	}
	system, keywords, err := splitFlags(options.Flags)
	if err != nil {
		return nil, err
	}
	dir, err := s.mbox.Folder(f.Name)
	if err != nil {
		return nil, s.internal("append", err)
	}
	date := options.Time
	if date.IsZero() {
		date = time.Now()
	}
	d, err := dir.Deliver(&exactReader{r: r, left: r.Size()}, maildir.DeliverOptions{Cur: true, Flags: lettersOf(system), ModTime: date})
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) { // the client went away mid-literal
			return nil, imapErr(imap.StatusResponseTypeBad, imap.ResponseCodeClientBug, "Message data cut short")
		}
		return nil, s.internal("append: write message", err)
	}
	uids, uv, err := s.srv.opts.Backend.IMAPAppend(s.ctx, s.acct.MailboxID, f.ID, []store.NewIMAPMessage{{
		Key: d.Key, Subdir: "cur", Filename: d.Name, Flags: system, Keywords: keywords,
		Size: d.Size, InternalDate: date,
	}})
	if err != nil {
		dir.Remove(d.Name)
		if errors.Is(err, store.ErrOverQuota) {
			return nil, errOverQuota
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, errTryCreate
		}
		return nil, s.internal("append: index", err)
	}
	s.srv.opts.Notices.Notify(f.ID)
	return &imap.AppendData{UID: imap.UID(uids[0]), UIDValidity: uv}, nil
}

// linkInto links the messages uids of the selected folder into dst and
// returns the index rows to insert and the planned keys. The keys go into
// the journal first (IntendAdds), so that no poll adopts the links before
// their rows are in, and a crash leaves links that are removed, not
// adopted. On failure it removes what it made; so does cancel, for a caller
// whose commit then fails (keys nil: every link) or indexed only some
// (the keys of the others).
func (s *session) linkInto(uids []uint32, dst store.IMAPFolder) ([]store.IMAPMessage, []store.NewIMAPMessage, func(keys []string), error) {
	sel := s.sel
	dir, err := s.mbox.Folder(dst.Name)
	if err != nil {
		return nil, nil, nil, s.internal("copy: destination", err)
	}
	msgs, err := s.srv.opts.Backend.IMAPMessages(s.ctx, sel.folder.ID, uids)
	if err != nil {
		return nil, nil, nil, s.internal("copy", err)
	}
	keys := make([]string, len(msgs))
	for i, m := range msgs {
		if keys[i], err = maildir.CopyKey(dir, m.Filename, m.Size); err != nil {
			return nil, nil, nil, s.internal("copy: key", err)
		}
	}
	if err := s.srv.opts.Backend.IntendAdds(s.ctx, dst.ID, s.srv.opts.Names.Host(), keys); err != nil {
		return nil, nil, nil, s.internal("copy: journal", err)
	}
	cancel := func(some []string) {
		if some == nil {
			some = keys
		}
		if err := s.srv.opts.Files.CancelAdds(context.WithoutCancel(s.ctx), dst.ID, dir, some); err != nil {
			s.logger().Warn("imap: remove links of a failed copy", "folder", dst.Name, "err", err)
		}
	}
	out := make([]store.NewIMAPMessage, 0, len(msgs))
	for i, m := range msgs {
		d, err := maildir.Link(sel.dir, m.Filename, dir, keys[i], lettersOf(m.Flags))
		if err != nil {
			cancel(nil)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, nil, imapErr(imap.StatusResponseTypeNo, "EXPUNGEISSUED",
					"Some messages were expunged meanwhile")
			}
			return nil, nil, nil, s.internal("copy: link", err)
		}
		out = append(out, store.NewIMAPMessage{Key: d.Key, Subdir: "cur", Filename: d.Name,
			Flags: m.Flags, Keywords: m.Keywords, Size: m.Size, InternalDate: m.InternalDate})
	}
	return msgs, out, cancel, nil
}

func (s *session) destination(name string) (store.IMAPFolder, error) {
	f, err := s.folder(name)
	if errors.Is(err, errNoSuchFolder) {
		return f, errTryCreate
	}
	return f, err
}

func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	dst, err := s.destination(dest)
	if err != nil {
		return nil, err
	}
	uids := s.sel.resolve(numSet)
	if len(uids) == 0 {
		return nil, nil
	}
	msgs, rows, cancel, err := s.linkInto(uids, dst)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 { // all expunged meanwhile: nothing to copy, no COPYUID
		return nil, nil
	}
	newUIDs, uv, err := s.srv.opts.Backend.IMAPAppend(s.ctx, s.acct.MailboxID, dst.ID, rows)
	if err != nil {
		if store.RolledBack(err) {
			cancel(nil)
		}
		if errors.Is(err, store.ErrOverQuota) {
			return nil, errOverQuota
		}
		return nil, s.internal("copy: index", err)
	}
	s.srv.opts.Notices.Notify(dst.ID)
	return copyData(msgs, newUIDs, uv), nil
}

// copyData is the COPYUID of a COPY or MOVE (RFC 4315), nil when nothing
// was copied: the response code has no form for empty UID sets.
func copyData(msgs []store.IMAPMessage, newUIDs []uint32, uv uint32) *imap.CopyData {
	data := &imap.CopyData{UIDValidity: uv}
	for i, m := range msgs {
		if i < len(newUIDs) && newUIDs[i] != 0 { // 0: not copied (a MOVE's source gone meanwhile)
			data.SourceUIDs.AddNum(imap.UID(m.UID))
			data.DestUIDs.AddNum(imap.UID(newUIDs[i]))
		}
	}
	if len(data.SourceUIDs) == 0 {
		return nil
	}
	return data
}

func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	sel := s.sel
	if sel.readOnly {
		return errReadOnly
	}
	dst, err := s.destination(dest)
	if err != nil {
		return err
	}
	uids := sel.resolve(numSet)
	if len(uids) == 0 {
		return nil
	}
	msgs, rows, cancel, err := s.linkInto(uids, dst)
	if err != nil {
		return err
	}
	if len(msgs) == 0 { // all expunged meanwhile: nothing to move
		return nil
	}
	src := make([]uint32, len(msgs))
	for i, m := range msgs {
		src[i] = m.UID
	}
	newUIDs, uv, gone, err := s.srv.opts.Backend.IMAPMove(s.ctx, s.acct.MailboxID, sel.folder.ID, dst.ID, src, rows)
	if err != nil {
		if store.RolledBack(err) {
			cancel(nil)
		}
		if errors.Is(err, store.ErrOverQuota) {
			return errOverQuota
		}
		return s.internal("move: index", err)
	}
	// Links of messages that another session expunged or moved before
	// this MOVE committed were not indexed: they go.
	var stale []string
	for i, u := range newUIDs {
		if u == 0 {
			stale = append(stale, rows[i].Key)
		}
	}
	if len(stale) > 0 {
		cancel(stale)
	}
	s.removeFiles(sel, gone)
	if len(stale) < len(rows) {
		s.srv.opts.Notices.Notify(dst.ID)
		s.srv.opts.Notices.Notify(sel.folder.ID)
	}
	if data := copyData(msgs, newUIDs, uv); data != nil {
		if err := w.WriteCopyData(data); err != nil {
			return err
		}
	}
	for i := len(gone) - 1; i >= 0; i-- {
		seq := sel.seqOf(gone[i].UID)
		if seq == 0 {
			continue
		}
		if err := w.WriteExpunge(seq); err != nil {
			return err
		}
		sel.uids = slices.Delete(sel.uids, int(seq-1), int(seq))
	}
	return nil
}

// exactReader fails with io.ErrUnexpectedEOF when r ends before its
// announced size: a literal cut short by a disconnect is not a message.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
