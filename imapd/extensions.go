package imapd

import (
	"compress/flate"
	"io"
	"net"

	"mailhost/imapwire"
	"mailhost/inflate"
)

// cmdGetQuotaRoot answers GETQUOTAROOT (RFC 9208 4.3.2): every folder of
// a mailbox is under one quota root, "", the mailbox's quota.
func cmdGetQuotaRoot(s *session, cmd *imapwire.Command) error {
	name, err := s.mailboxName(cmd.Args.(string))
	if err != nil {
		return err
	}
	f, err := s.folder(name)
	if err != nil {
		return err
	}
	s.enc.Raw("* QUOTAROOT ").Mailbox(f.Name).Raw(` ""`).CRLF()
	return s.writeQuota()
}

// cmdGetQuota answers GETQUOTA (RFC 9208 4.3.1) of the one root, "".
func cmdGetQuota(s *session, cmd *imapwire.Command) error {
	if cmd.Args.(string) != "" {
		return imapErr("NO", "NONEXISTENT", "No such quota root")
	}
	return s.writeQuota()
}

// writeQuota writes the QUOTA response of the mailbox: STORAGE in KiB
// when the mailbox has a quota (RFC 9208 5.1), none when it has not.
func (s *session) writeQuota() error {
	quota, used, err := s.srv.opts.Backend.IMAPMailboxUsage(s.ctx, s.acct.MailboxID)
	if err != nil {
		return s.internal("quota", err)
	}
	e := &s.enc
	e.Raw(`* QUOTA "" (`)
	if quota > 0 {
		e.Raw("STORAGE ").Number(uint64((used + 1023) / 1024)).SP().Number(uint64(quota / 1024))
	}
	e.Raw(")").CRLF()
	return nil
}

// cmdSetQuota refuses SETQUOTA: quotas are set by the administrator.
func cmdSetQuota(*session, *imapwire.Command) error {
	return imapErr("NO", "NOPERM", "Quotas are set by the administrator")
}

// cmdCompress starts COMPRESS=DEFLATE (RFC 4978): after the OK, both
// directions are raw DEFLATE (RFC 1951), each response flushed.
func cmdCompress(s *session, cmd *imapwire.Command) error {
	if cmd.Args.(string) != "DEFLATE" {
		return imapErr("BAD", "", "Unknown compression mechanism")
	}
	if _, ok := s.conn.(*deflateConn); ok {
		return imapErr("NO", "COMPRESSIONACTIVE", "Compression is already on")
	}
	if s.br.Buffered() > 0 {
		return imapErr("BAD", "", "Data after COMPRESS")
	}
	s.enc.Status(cmd.Tag, "OK", "", "DEFLATE active")
	if err := s.flush(); err != nil {
		return err
	}
	s.release()
	w, _ := flate.NewWriter(s.conn, flate.DefaultCompression)
	raw := &rawReader{conn: s.conn, buf: make([]byte, 4096)}
	// Clients flush with Z_SYNC_FLUSH or Z_PARTIAL_FLUSH (mbsync), which
	// leaves a command's last bits in the middle of a byte: inflate reads
	// no bit a command does not need and hands the command out before it
	// waits for more, where other decoders read ahead into the next one.
	r := inflate.NewReader(raw)
	s.conn = &deflateConn{Conn: s.conn, r: r, w: w}
	s.take()
	return errSilent
}

// deflateConn is a connection under COMPRESS=DEFLATE.
type deflateConn struct {
	net.Conn
	r *inflate.Reader
	w *flate.Writer
}

// rawReader buffers the compressed bytes under the decompressor: it is
// an io.ByteReader, and tells how much it holds (inflate.Buffered), so
// that the decompressor hands out a command before it reads on.
type rawReader struct {
	conn net.Conn
	buf  []byte
	r, w int
}

func (b *rawReader) fill() error {
	b.r, b.w = 0, 0
	n, err := b.conn.Read(b.buf)
	b.w = n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// Buffered is the number of compressed bytes read and not taken yet.
func (b *rawReader) Buffered() int { return b.w - b.r }

func (b *rawReader) ReadByte() (byte, error) {
	if b.r == b.w {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	c := b.buf[b.r]
	b.r++
	return c, nil
}

// Read returns decompressed bytes.
func (c *deflateConn) Read(p []byte) (int, error) {
	return c.r.Read(p)
}

// Write compresses p and flushes (a sync flush, so that the client can
// read the whole response: RFC 4978 4).
func (c *deflateConn) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, c.w.Flush()
}
