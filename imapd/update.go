package imapd

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailhost/imapwire"
	"mailhost/maildir"
	"mailhost/store"
)

// splitFlags separates IMAP system flags (canonical spelling) from
// keywords; \Recent is not storable and dropped (RFC 3501 2.3.2).
func splitFlags(flags []string) (system, keywords []string, err error) {
	system, keywords = []string{}, []string{}
	for _, s := range flags {
		if strings.HasPrefix(s, `\`) {
			if strings.EqualFold(s, flagRecent) {
				continue
			}
			c := maildir.FlagLetter(s)
			if c == 0 {
				return nil, nil, imapErr("BAD", "CLIENTBUG", "Unknown system flag "+s)
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
func (s *session) storeFlags(sel *selected, uids []uint32, op store.FlagOp, flags []string) ([]store.FlagChange, error) {
	changes, _, err := s.storeFlagsIf(sel, uids, -1, op, flags)
	return changes, err
}

// storeFlagsIf is storeFlags changing only the messages whose modseq is at
// most unchangedSince (< 0: all); it returns the UIDs of the others too
// (CONDSTORE's UNCHANGEDSINCE, RFC 7162 3.1.3).
func (s *session) storeFlagsIf(sel *selected, uids []uint32, unchangedSince int64, op store.FlagOp,
	flags []string) ([]store.FlagChange, []uint32, error) {
	system, keywords, err := splitFlags(flags)
	if err != nil {
		return nil, nil, err
	}
	if op == store.FlagsAdd && len(system) == 0 && len(keywords) == 0 && flags != nil && unchangedSince < 0 {
		return nil, nil, nil
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
	b := s.srv.opts.Backend
	if unchangedSince < 0 && sel.flagsPresumablySet(uids, op, system, keywords) {
		// The cache says nothing changes: one read without locks confirms
		// it, instead of a transaction that queues on the folder's lock.
		change, err := b.IMAPFlagsWouldChange(s.ctx, sel.folder.ID, uids, op, system, keywords)
		if err != nil {
			return nil, nil, s.internal("store flags", err)
		}
		if !change {
			return nil, nil, nil
		}
	}
	var changes []store.FlagChange
	var modified []uint32
	if unchangedSince < 0 {
		changes, err = b.IMAPStoreFlags(s.ctx, sel.folder.ID, uids, op, system, keywords, rename)
	} else {
		changes, modified, err = b.IMAPStoreFlagsUnchangedSince(s.ctx, sel.folder.ID, uids, unchangedSince, op,
			system, keywords, rename)
	}
	if err != nil {
		return nil, nil, s.internal("store flags", err)
	}
	for _, c := range changes {
		sel.setFlags(c.UID, c.Flags, c.Keywords)
	}
	s.renamedRows(sel, changes)
	if len(changes) > 0 {
		if changes[0].ModSeq == sel.modseq+1 { // nothing else changed meanwhile
			if sel.expModseq == sel.modseq {
				sel.expModseq = changes[0].ModSeq
			}
			sel.modseq = changes[0].ModSeq
		}
		s.srv.opts.Notices.Notify(sel.folder.ID)
		s.contextsStored(sel, changes)
	}
	return changes, modified, nil
}

func cmdStore(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(*imapwire.StoreArgs)
	sel := s.sel
	if sel.readOnly {
		return errReadOnly
	}
	uids := sel.resolve(a.Set, cmd.UID)
	if len(uids) == 0 {
		return nil
	}
	op := store.FlagsSet
	switch a.Op {
	case '+':
		op = store.FlagsAdd
	case '-':
		op = store.FlagsDel
	}
	return s.storeSync(a, cmd.UID, uids, op)
}

func cmdExpunge(s *session, cmd *imapwire.Command) error {
	var only []uint32
	if cmd.UID {
		only = s.sel.resolve(cmd.Args.(imapwire.NumSet), true)
		if len(only) == 0 {
			return nil
		}
	}
	n, err := s.expunge(only, false)
	if err == nil && n > 0 {
		s.expungedModSeq(false)
	}
	return err
}

// expunge removes the \Deleted messages (of only, when not nil); quiet
// (CLOSE) writes no EXPUNGE responses.
func (s *session) expunge(only []uint32, quiet bool) (int, error) {
	sel := s.sel
	if sel.readOnly {
		return 0, errReadOnly
	}
	gone, err := s.srv.opts.Backend.IMAPExpunge(s.ctx, s.acct.MailboxID, sel.folder.ID, only)
	if err != nil {
		return 0, s.internal("expunge", err)
	}
	done := s.srv.adoptChecks.writing(sel.folder.ID, len(gone)) // rows gone, files not yet
	s.removeFiles(sel, gone)
	done()
	if len(gone) == 0 {
		return 0, nil
	}
	s.srv.opts.Notices.Notify(sel.folder.ID)
	uids := make([]uint32, len(gone))
	for i, g := range gone {
		uids[i] = g.UID
	}
	if quiet {
		slices.Sort(uids)
		sel.drop(uids)
	} else {
		s.reportExpunged(uids)
	}
	return len(gone), nil
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

// cmdAppend stores one message, or several (MULTIAPPEND, RFC 3502) in
// one transaction: all or none.
func cmdAppend(s *session, cmd *imapwire.Command) error {
	name, err := s.mailboxName(cmd.Args.(imapwire.Append).Mailbox)
	if err != nil {
		s.dec.DiscardLine()
		return err
	}
	f, ferr := s.folder(name)
	if errors.Is(ferr, errNoSuchFolder) {
		ferr = errTryCreate
	}
	var dir maildir.Folder
	if ferr == nil {
		if dir, err = s.mbox.Folder(f.Name); err != nil {
			ferr = s.internal("append", err)
		}
	}
	var rows []store.NewIMAPMessage
	cleanup := func() {
		for _, r := range rows {
			dir.Remove(r.Filename)
		}
	}
	writing := 0 // files delivered before their rows (adoptChecks.writing)
	defer func() {
		if writing > 0 {
			s.srv.adoptChecks.add(f.ID, -writing)
		}
	}()
	for first := true; ; first = false {
		m, nonSync, err := s.dec.NextAppend(first)
		if err != nil {
			cleanup()
			return err
		}
		if m == nil {
			break
		}
		if ferr != nil && !nonSync { // refuse before the client sends the data
			cleanup()
			s.dec.LineDone()
			return ferr
		}
		if err := s.dec.CheckLiteral(m.Size, nonSync, s.srv.opts.AppendLimit); err != nil {
			cleanup()
			return err
		}
		r, err := s.dec.LiteralBody(m.Size, nonSync)
		if err != nil {
			cleanup()
			return err
		}
		if ferr == nil {
			s.srv.adoptChecks.add(f.ID, 1)
			writing++
		}
		row, err := s.deliver(dir, ferr, m, r)
		if err != nil {
			cleanup()
			return err
		}
		rows = append(rows, row)
		if m.Binary && s.dec.AtEOL() == false {
			if b, _ := s.br.Peek(1); len(b) == 1 && b[0] == ')' {
				s.dec.EndAppendUTF8()
			}
		}
	}
	if ferr != nil {
		return ferr
	}
	uids, uv, err := s.srv.opts.Backend.IMAPAppend(s.ctx, s.acct.MailboxID, f.ID, rows)
	if err != nil {
		cleanup()
		if errors.Is(err, store.ErrOverQuota) {
			return errOverQuota
		}
		if errors.Is(err, store.ErrNotFound) {
			return errTryCreate
		}
		return s.internal("append: index", err)
	}
	s.srv.opts.Notices.Notify(f.ID)
	s.usageGrew()
	s.okCode = "APPENDUID " + strconv.FormatUint(uint64(uv), 10) + " " + imapwire.SetOf(uids).String()
	return nil
}

// deliver writes one APPENDed message to the folder's directory; with
// refused set (no such folder) it reads and drops it.
func (s *session) deliver(dir maildir.Folder, refused error, m *imapwire.AppendMessage, r io.Reader) (store.NewIMAPMessage, error) {
	if refused != nil {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return store.NewIMAPMessage{}, err
		}
		return store.NewIMAPMessage{}, nil
	}
	system, keywords, err := splitFlags(m.Flags)
	if err != nil {
		io.Copy(io.Discard, r)
		return store.NewIMAPMessage{}, err
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	d, err := dir.Deliver(&exactReader{r: r, left: m.Size}, maildir.DeliverOptions{Cur: true, Flags: lettersOf(system), ModTime: date})
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) { // the client went away mid-literal
			return store.NewIMAPMessage{}, io.ErrUnexpectedEOF
		}
		return store.NewIMAPMessage{}, s.internal("append: write message", err)
	}
	return store.NewIMAPMessage{Key: d.Key, Subdir: "cur", Filename: d.Name, Flags: system, Keywords: keywords,
		Size: d.Size, InternalDate: date}, nil
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
				return nil, nil, nil, imapErr("NO", "EXPUNGEISSUED",
					"Some messages were expunged meanwhile")
			}
			return nil, nil, nil, s.internal("copy: link", err)
		}
		out = append(out, store.NewIMAPMessage{Key: d.Key, Subdir: "cur", Filename: d.Name,
			Flags: m.Flags, Keywords: m.Keywords, Size: m.Size, InternalDate: m.InternalDate,
			EmailID: m.EmailID}) // COPY keeps the EMAILID (RFC 8474 5.1)
	}
	return msgs, out, cancel, nil
}

func (s *session) destination(raw string) (store.IMAPFolder, error) {
	name, err := s.mailboxName(raw)
	if err != nil {
		return store.IMAPFolder{}, err
	}
	f, err := s.folder(name)
	if errors.Is(err, errNoSuchFolder) {
		return f, errTryCreate
	}
	return f, err
}

func cmdCopy(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(imapwire.Copy)
	if cmd.Name == "MOVE" {
		return s.move(a, cmd.UID)
	}
	dst, err := s.destination(a.Mailbox)
	if err != nil {
		return err
	}
	uids := s.sel.resolve(a.Set, cmd.UID)
	if len(uids) == 0 {
		return nil
	}
	defer s.srv.adoptChecks.writing(dst.ID, len(uids))() // links before their rows
	msgs, rows, cancel, err := s.linkInto(uids, dst)
	if err != nil {
		return err
	}
	if len(msgs) == 0 { // all expunged meanwhile: nothing to copy, no COPYUID
		return nil
	}
	newUIDs, uv, err := s.srv.opts.Backend.IMAPAppend(s.ctx, s.acct.MailboxID, dst.ID, rows)
	if err != nil {
		if store.RolledBack(err) {
			cancel(nil)
		}
		if errors.Is(err, store.ErrOverQuota) {
			return errOverQuota
		}
		return s.internal("copy: index", err)
	}
	s.srv.opts.Notices.Notify(dst.ID)
	s.usageGrew()
	s.okCode = copyUID(msgs, newUIDs, uv)
	return nil
}

// copyUID is the COPYUID of a COPY or MOVE (RFC 4315), "" when nothing
// was copied: the response code has no form for empty UID sets.
func copyUID(msgs []store.IMAPMessage, newUIDs []uint32, uv uint32) string {
	var src, dst []uint32
	for i, m := range msgs {
		if i < len(newUIDs) && newUIDs[i] != 0 { // 0: not copied (a MOVE's source gone meanwhile)
			src = append(src, m.UID)
			dst = append(dst, newUIDs[i])
		}
	}
	if len(src) == 0 {
		return ""
	}
	return "COPYUID " + strconv.FormatUint(uint64(uv), 10) + " " + uidList(src) + " " + uidList(dst)
}

// uidList writes UIDs in their order (COPYUID pairs them by position):
// ranges only where they ascend by one.
func uidList(uids []uint32) string {
	var b strings.Builder
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(uids[i]), 10))
		if j > i {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(uids[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}

func (s *session) move(a imapwire.Copy, uid bool) error {
	sel := s.sel
	if sel.readOnly {
		return errReadOnly
	}
	dst, err := s.destination(a.Mailbox)
	if err != nil {
		return err
	}
	uids := sel.resolve(a.Set, uid)
	if len(uids) == 0 {
		return nil
	}
	// Links before their rows in dst; files after their rows in the source.
	defer s.srv.adoptChecks.writing(dst.ID, len(uids))()
	defer s.srv.adoptChecks.writing(sel.folder.ID, len(uids))()
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
	if code := copyUID(msgs, newUIDs, uv); code != "" {
		s.enc.Status("*", "OK", code, "Moved")
	}
	uids = make([]uint32, len(gone))
	for i, g := range gone {
		uids[i] = g.UID
	}
	s.reportExpunged(uids)
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
