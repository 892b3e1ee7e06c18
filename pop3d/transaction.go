package pop3d

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"strconv"
	"time"

	"mailhost/maildir"
)

// transaction runs a command of the TRANSACTION state (RFC 1939 section 5)
// and reports whether the session is over.
func (ss *session) transaction(c command) bool {
	switch c.Name {
	case "STAT":
		if !ss.maxArgs(c, 0) {
			return false
		}
		n, size, err := ss.totals()
		if err != nil {
			return ss.failed("stat", err)
		}
		ss.reply(true, "%d %d", n, size)
	case "LIST", "UIDL":
		if !ss.maxArgs(c, 1) {
			return false
		}
		return ss.listing(c)
	case "RETR":
		if !ss.maxArgs(c, 1) {
			return false
		}
		i, ok := ss.message(c.Args)
		if !ok {
			return false
		}
		return ss.send(i, -1)
	case "TOP":
		if !ss.maxArgs(c, 2) {
			return false
		}
		i, ok := ss.message(c.Args)
		if !ok {
			return false
		}
		if len(c.Args) < 2 {
			ss.reply(false, "TOP needs a message number and a number of lines.")
			return false
		}
		lines, ok := parseNumber(c.Args[1])
		if !ok {
			ss.reply(false, "Invalid number of lines: %s.", c.Args[1])
			return false
		}
		return ss.send(i, lines)
	case "DELE":
		if !ss.maxArgs(c, 1) {
			return false
		}
		i, ok := ss.message(c.Args)
		if !ok {
			return false
		}
		ss.deleted[i] = true
		ss.reply(true, "Message %d marked for deletion.", i+1)
	case "NOOP":
		if ss.maxArgs(c, 0) {
			ss.reply(true, "")
		}
	case "RSET":
		if !ss.maxArgs(c, 0) {
			return false
		}
		clear(ss.deleted)
		n, size, err := ss.totals()
		if err != nil {
			return ss.failed("rset", err)
		}
		ss.reply(true, "Maildrop has %d messages (%d octets).", n, size)
	}
	return false
}

// maxArgs refuses a command with more than n arguments.
func (ss *session) maxArgs(c command, n int) bool {
	if len(c.Args) > n {
		ss.reply(false, "Too many arguments to %s.", c.Name)
		return false
	}
	return true
}

// message reads the message number in args[0] and returns its index. It
// answers -ERR itself for a missing, malformed, unknown or deleted number.
func (ss *session) message(args []string) (int, bool) {
	if len(args) == 0 {
		ss.reply(false, "Missing message number.")
		return 0, false
	}
	n, ok := parseNumber(args[0])
	if !ok {
		ss.reply(false, "Invalid message number: %s.", args[0])
		return 0, false
	}
	if n < 1 || n > len(ss.inbox.Messages) {
		ss.reply(false, "There is no message %d.", n)
		return 0, false
	}
	if ss.deleted[n-1] {
		ss.reply(false, "Message %d is deleted.", n)
		return 0, false
	}
	return n - 1, true
}

// failed answers an internal error with a temporary failure; the details
// go to the log only.
func (ss *session) failed(what string, err error) bool {
	ss.log.Error("pop3 "+what, "err", err)
	ss.reply(false, "[SYS/TEMP] Temporary server failure.")
	return false
}

// totals counts the messages not marked deleted and their CRLF sizes.
func (ss *session) totals() (n int, size int64, err error) {
	for i := range ss.inbox.Messages {
		if ss.deleted[i] {
			continue
		}
		s, err := ss.vsize(i)
		if err != nil {
			return 0, 0, err
		}
		n++
		size += s
	}
	return n, size, nil
}

// uidl is the unique-id of a message: "<uidvalidity>.<uid>", the IMAP
// identity of the message, so it never changes and never comes back; or
// the one an import kept from the server before (store.POP3Message.UIDL).
func (ss *session) uidl(i int) string {
	if u := ss.inbox.Messages[i].UIDL; u != "" {
		return u
	}
	return strconv.FormatInt(ss.inbox.UIDValidity, 10) + "." + strconv.FormatInt(ss.inbox.Messages[i].UID, 10)
}

// listing answers LIST and UIDL, for one message or all.
func (ss *session) listing(c command) bool {
	value := func(i int) (string, error) {
		if c.Name == "UIDL" {
			return ss.uidl(i), nil
		}
		s, err := ss.vsize(i)
		return strconv.FormatInt(s, 10), err
	}
	if len(c.Args) == 1 {
		i, ok := ss.message(c.Args)
		if !ok {
			return false
		}
		v, err := value(i)
		if err != nil {
			return ss.failed("list", err)
		}
		ss.reply(true, "%d %s", i+1, v)
		return false
	}
	n, size, err := ss.totals()
	if err != nil {
		return ss.failed("list", err)
	}
	if c.Name == "UIDL" {
		ss.reply(true, "Unique-ID listing follows")
	} else {
		ss.reply(true, "%d messages (%d octets)", n, size)
	}
	for i := range ss.inbox.Messages {
		if ss.deleted[i] {
			continue
		}
		v, _ := value(i) // sizes are known after totals
		ss.w.WriteString(strconv.Itoa(i+1) + " " + v + "\r\n")
	}
	ss.w.WriteString(".\r\n")
	return false
}

// vsize returns the size of message i with CRLF line endings: from the W=
// field of its key when present, else computed from the file once and
// cached by the server.
func (ss *session) vsize(i int) (int64, error) {
	if v := ss.vsizes[i]; v >= 0 {
		return v, nil
	}
	m := ss.inbox.Messages[i]
	if info, err := maildir.ParseName(m.Key); err == nil && info.VSize >= 0 {
		ss.vsizes[i] = info.VSize
		return info.VSize, nil
	}
	cacheKey := ss.folder.Path + "\x00" + m.Key
	if v, ok := ss.srv.sizes.get(cacheKey); ok {
		ss.vsizes[i] = v
		return v, nil
	}
	f, err := ss.folder.Open(m.Filename)
	if errors.Is(err, fs.ErrNotExist) {
		// Gone (expunged over IMAP meanwhile): RETR will say so; the
		// listing shows the indexed size.
		ss.vsizes[i] = m.Size
		return m.Size, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	v, err := crlfSize(ss.fileReader(), f)
	if err != nil {
		return 0, err
	}
	ss.srv.sizes.put(cacheKey, v)
	ss.vsizes[i] = v
	return v, nil
}

func (ss *session) fileReader() *bufio.Reader {
	if ss.fileBuf == nil {
		ss.fileBuf = bufio.NewReaderSize(nil, readBufSize)
	}
	return ss.fileBuf
}

// send answers RETR (bodyLines < 0) or TOP: the message streamed from its
// file. An error after "+OK" cannot be reported in the protocol: the
// connection is closed, so the client does not take a cut message for a
// whole one.
func (ss *session) send(i, bodyLines int) bool {
	m := ss.inbox.Messages[i]
	f, err := ss.folder.Open(m.Filename)
	if errors.Is(err, fs.ErrNotExist) {
		ss.reply(false, "Message %d no longer exists (deleted by another client).", i+1)
		return false
	}
	if err != nil {
		return ss.failed("open message", err)
	}
	defer f.Close()
	if bodyLines < 0 {
		size, err := ss.vsize(i)
		if err != nil {
			return ss.failed("message size", err)
		}
		ss.reply(true, "%d octets", size)
	} else {
		ss.reply(true, "Top of message follows")
	}
	n, err := writeMessage(ss.w, ss.fileReader(), f, bodyLines)
	ss.retrievedBytes += n
	ss.srv.m.retrBytes.Add(float64(n))
	if err != nil {
		ss.log.Warn("pop3 send message", "uid", m.UID, "err", err)
		return true
	}
	if bodyLines < 0 {
		ss.retrieved++
		ss.srv.m.retrieved.Inc()
	}
	return false
}

// update is the UPDATE state (RFC 1939 section 6): the messages marked
// with DELE leave the index, the quota and the folder in one transaction
// that also journals them for removal, then their files are removed. A
// crash in between leaves files that the next reconciliation removes (never
// adopts), and never an index row without its file. It runs to the end even when the server is
// stopping.
func (ss *session) update() (int, error) {
	var ids []int64
	for i, d := range ss.deleted {
		if d {
			ids = append(ids, ss.inbox.Messages[i].ID)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ss.ctx), time.Minute)
	defer cancel()
	gone, err := ss.srv.store.POP3Expunge(ctx, ss.acct.MailboxID, ss.inbox.FolderID, ids)
	if err != nil {
		ss.log.Error("pop3 expunge", "err", err)
		return 0, err
	}
	names := make([]string, len(gone.Messages))
	for i, m := range gone.Messages {
		names[i] = m.Filename
	}
	if err := ss.srv.files.Remove(ctx, ss.inbox.FolderID, ss.folder, names); err != nil {
		ss.log.Error("pop3 remove message files (index rows already gone; journaled, removed at the next reconciliation)", "err", err)
	}
	ss.deletedCount = len(gone.Messages)
	ss.srv.m.deleted.Add(float64(len(gone.Messages)))
	return len(gone.Messages), nil
}
