package imapd

import (
	"errors"
	"io/fs"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailhost/maildir"
	"mailhost/store"
)

const delim = '/'

func imapErr(typ imap.StatusResponseType, code imap.ResponseCode, text string) error {
	return &imap.Error{Type: typ, Code: code, Text: text}
}

var (
	errNoSuchFolder = imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeNonExistent, "No such mailbox")
	errTryCreate    = imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeTryCreate, "No such mailbox")
	errOverQuota    = imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeOverQuota, "Quota exceeded (mailbox is full)")
	errReadOnly     = imapErr(imap.StatusResponseTypeNo, "READ-ONLY", "Mailbox is read-only (EXAMINE)")
)

// canonName writes a first level "INBOX" in upper case, as DirName does on
// disk, so "inbox/x" and "INBOX/x" are one folder.
func canonName(name string) string {
	first, rest, ok := strings.Cut(name, string(delim))
	if strings.EqualFold(first, "INBOX") {
		if ok {
			return "INBOX" + string(delim) + rest
		}
		return "INBOX"
	}
	return name
}

// checkName refuses names the Maildir cannot hold.
func checkName(name string) error {
	if _, err := maildir.DirName(name, delim); err != nil {
		var ne *maildir.NameError
		if errors.As(err, &ne) {
			return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeCannot, "Invalid mailbox name: "+ne.Reason)
		}
		return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeCannot, "Invalid mailbox name")
	}
	return nil
}

func (s *session) folder(name string) (store.IMAPFolder, error) {
	f, err := s.srv.opts.Backend.IMAPFolder(s.ctx, s.acct.MailboxID, canonName(name))
	if errors.Is(err, store.ErrNotFound) {
		return f, errNoSuchFolder
	}
	if err != nil {
		return f, s.internal("folder", err)
	}
	return f, nil
}

func (s *session) Create(name string, options *imap.CreateOptions) error {
	name = canonName(strings.TrimSuffix(name, string(delim))) // RFC 3501 6.3.3: a trailing separator
	if name == "INBOX" {
		return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeAlreadyExists, "INBOX always exists")
	}
	if err := checkName(name); err != nil {
		return err
	}
	use := ""
	if options != nil && len(options.SpecialUse) > 0 {
		if len(options.SpecialUse) > 1 {
			return imapErr(imap.StatusResponseTypeNo, "USEATTR", "Only one special-use attribute per mailbox")
		}
		use = specialUse(string(options.SpecialUse[0]))
		if use == "" {
			return imapErr(imap.StatusResponseTypeNo, "USEATTR", "Unsupported special-use attribute")
		}
	}
	if _, err := s.srv.opts.Backend.IMAPFolder(s.ctx, s.acct.MailboxID, name); err == nil {
		return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeAlreadyExists, "Mailbox already exists")
	}
	madeDir := true
	if err := s.mbox.CreateFolder(name); errors.Is(err, fs.ErrExist) {
		madeDir = false // a directory without a row (made by another program): adopt it
	} else if err != nil {
		return s.internal("create folder", err)
	}
	_, err := s.srv.opts.Backend.CreateIMAPFolder(s.ctx, s.acct.MailboxID, name, use)
	if err != nil {
		if madeDir {
			s.mbox.DeleteFolder(name)
		}
		if errors.Is(err, store.ErrConflict) {
			return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeAlreadyExists, "Mailbox already exists")
		}
		return s.internal("create folder", err)
	}
	return nil
}

// specialUse returns the canonical spelling of an RFC 6154 attribute the
// index accepts, or "".
func specialUse(attr string) string {
	for _, a := range []string{`\All`, `\Archive`, `\Drafts`, `\Flagged`, `\Junk`, `\Sent`, `\Trash`} {
		if strings.EqualFold(a, attr) {
			return a
		}
	}
	return ""
}

func (s *session) Delete(name string) error {
	name = canonName(name)
	if name == "INBOX" {
		return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeCannot, "INBOX cannot be deleted")
	}
	if _, err := s.folder(name); err != nil {
		return err
	}
	id, err := s.srv.opts.Backend.DeleteIMAPFolder(s.ctx, s.acct.MailboxID, name)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchFolder
	}
	if err != nil {
		return s.internal("delete folder", err)
	}
	// The row is gone and the deletion journaled: the directory goes now,
	// or, after a crash, at the next reconciliation (never adopted back).
	switch err := s.mbox.DeleteFolder(name); {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		s.logger().Warn("imap: delete folder directory", "folder", name, "err", err)
	default:
		if err := s.srv.opts.Backend.FinishFolderDelete(s.ctx, s.acct.MailboxID, name); err != nil {
			s.logger().Warn("imap: finish folder delete", "folder", name, "err", err)
		}
	}
	s.srv.opts.Notices.Notify(id)
	return nil
}

func (s *session) Rename(oldName, newName string, _ *imap.RenameOptions) error {
	oldName, newName = canonName(oldName), canonName(strings.TrimSuffix(newName, string(delim)))
	if err := checkName(newName); err != nil {
		return err
	}
	if newName == "INBOX" {
		return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeAlreadyExists, "INBOX already exists")
	}
	if _, err := s.srv.opts.Backend.IMAPFolder(s.ctx, s.acct.MailboxID, newName); err == nil {
		return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeAlreadyExists, "Target mailbox already exists")
	}
	b := s.srv.opts.Backend
	if oldName == "INBOX" { // RFC 3501 6.3.5: the messages move, INBOX stays
		inbox, err := s.folder("INBOX")
		if err != nil {
			return err
		}
		if err := s.mbox.RenameFolder("INBOX", newName); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeAlreadyExists, "Target mailbox already exists")
			}
			return s.internal("rename INBOX", err)
		}
		if err := b.RenameIMAPInbox(s.ctx, s.acct.MailboxID, newName); err != nil {
			return s.internal("rename INBOX", err)
		}
		s.srv.opts.Notices.Notify(inbox.ID)
		return nil
	}
	if strings.HasPrefix(newName, oldName+string(delim)) {
		return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeCannot, "Cannot rename a mailbox below itself")
	}
	err := s.mbox.RenameFolder(oldName, newName)
	switch {
	case errors.Is(err, fs.ErrExist):
		return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeAlreadyExists, "Target mailbox already exists")
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		var ne *maildir.NameError
		if errors.As(err, &ne) {
			return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeCannot, ne.Reason)
		}
		return s.internal("rename folder", err)
	}
	dirMoved := err == nil
	err = b.RenameIMAPFolder(s.ctx, s.acct.MailboxID, oldName, newName)
	if err != nil {
		if dirMoved {
			s.mbox.RenameFolder(newName, oldName) // best effort undo
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			return errNoSuchFolder
		case errors.Is(err, store.ErrConflict):
			return imapErr(imap.StatusResponseTypeNo, imap.ResponseCodeAlreadyExists, "Target mailbox already exists")
		}
		return s.internal("rename folder", err)
	}
	if s.sel != nil && (s.sel.folder.Name == oldName || strings.HasPrefix(s.sel.folder.Name, oldName+string(delim))) {
		s.sel.folder.Name = newName + s.sel.folder.Name[len(oldName):]
		if d, err := s.mbox.Folder(s.sel.folder.Name); err == nil {
			s.sel.dir = d
		}
	}
	return nil
}

func (s *session) Subscribe(name string) error   { return s.subscribe(name, true) }
func (s *session) Unsubscribe(name string) error { return s.subscribe(name, false) }

func (s *session) subscribe(name string, on bool) error {
	err := s.srv.opts.Backend.SetIMAPSubscribed(s.ctx, s.acct.MailboxID, canonName(name), on)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchFolder
	}
	if err != nil {
		return s.internal("subscribe", err)
	}
	return nil
}

func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	f, err := s.folder(name)
	if err != nil {
		return nil, err
	}
	return s.status(f, options)
}

func (s *session) status(f store.IMAPFolder, options *imap.StatusOptions) (*imap.StatusData, error) {
	data := &imap.StatusData{Mailbox: f.Name}
	if options.UIDNext {
		data.UIDNext = imap.UID(f.UIDNext)
	}
	if options.UIDValidity {
		data.UIDValidity = f.UIDValidity
	}
	if options.HighestModSeq {
		data.HighestModSeq = uint64(f.HighestModSeq)
	}
	if options.AppendLimit {
		l := s.AppendLimit()
		data.AppendLimit = &l
	}
	if options.NumMessages || options.NumUnseen || options.NumDeleted || options.Size || options.NumRecent || options.DeletedStorage {
		st, err := s.srv.opts.Backend.IMAPStatus(s.ctx, f.ID)
		if err != nil {
			return nil, s.internal("status", err)
		}
		if options.NumMessages {
			data.NumMessages = &st.Messages
		}
		if options.NumUnseen {
			data.NumUnseen = &st.Unseen
		}
		if options.NumDeleted {
			data.NumDeleted = &st.Deleted
		}
		if options.Size {
			data.Size = &st.Size
		}
		if options.NumRecent {
			data.NumRecent = &st.Recent
		}
	}
	return data, nil
}

func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 1 && patterns[0] == "" && !options.SelectSubscribed && !options.SelectSpecialUse {
		// RFC 3501 6.3.8: the hierarchy delimiter and root
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim, Mailbox: ""})
	}
	folders, err := s.srv.opts.Backend.IMAPFolders(s.ctx, s.acct.MailboxID)
	if err != nil {
		return s.internal("list", err)
	}
	byName := make(map[string]*store.IMAPFolder, len(folders))
	for i := range folders {
		byName[folders[i].Name] = &folders[i]
	}
	// Every name with its missing parents ("A" of "A/B" when only "A/B" exists).
	names := make([]string, 0, len(folders))
	for _, f := range folders {
		names = append(names, f.Name)
		for p := f.Name; ; {
			i := strings.LastIndexByte(p, delim)
			if i <= 0 {
				break
			}
			p = p[:i]
			if _, ok := byName[p]; !ok && !slices.Contains(names, p) {
				names = append(names, p)
			}
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if a == "INBOX" || b == "INBOX" {
			return boolCmp(b == "INBOX", a == "INBOX")
		}
		return strings.Compare(a, b)
	})
	hasChildren := func(name string) (children, subscribedChild bool) {
		for _, f := range folders {
			if strings.HasPrefix(f.Name, name+string(delim)) {
				children = true
				subscribedChild = subscribedChild || f.Subscribed
			}
		}
		return
	}
	for _, name := range names {
		matched := false
		for _, p := range patterns {
			if imapserver.MatchList(name, delim, ref, p) {
				matched = true
				break
			}
		}
		if !matched {
			continue
		}
		f := byName[name]
		children, subChild := hasChildren(name)
		data := &imap.ListData{Delim: delim, Mailbox: name}
		subscribed := f != nil && f.Subscribed
		if options.SelectSubscribed && !subscribed {
			if !(options.SelectRecursiveMatch && subChild) {
				continue
			}
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		if options.SelectSpecialUse && (f == nil || f.SpecialUse == "") {
			continue
		}
		if f == nil {
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		}
		if subscribed && (options.ReturnSubscribed || options.SelectSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if children {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if f != nil && f.SpecialUse != "" {
			data.Attrs = append(data.Attrs, imap.MailboxAttr(f.SpecialUse))
		}
		if options.ReturnStatus != nil && f != nil {
			st, err := s.status(*f, options.ReturnStatus)
			if err != nil {
				return err
			}
			data.Status = st
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// flagRecent is the session flag of RFC 3501 2.3.2 (gone from IMAP4rev2,
// so go-imap v2 does not name it).
const flagRecent imap.Flag = `\Recent`
