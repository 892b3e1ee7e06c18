package imapd

import (
	"compress/flate"
	"io"
	"net"

	kflate "github.com/klauspost/compress/flate"

	"mailhost/imapwire"
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
	// Clients flush with Z_SYNC_FLUSH or Z_PARTIAL_FLUSH (mbsync): the
	// standard library's reader hands out a block's data only at a
	// stored block, so a command sent with a partial flush would wait
	// forever; klauspost's reader returns each block as it ends.
	r := kflate.NewReaderOpts(raw, kflate.WithPartialBlock())
	s.conn = &deflateConn{Conn: s.conn, raw: raw, r: r, w: w}
	s.take()
	return errSilent
}

// deflateConn is a connection under COMPRESS=DEFLATE.
type deflateConn struct {
	net.Conn
	raw *rawReader
	r   io.ReadCloser
	w   *flate.Writer
}

// rawReader buffers the compressed bytes under the decompressor: it is
// an io.ByteReader, so flate adds no buffer of its own.
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

func (b *rawReader) Read(p []byte) (int, error) {
	if b.r == b.w {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

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

// Read returns decompressed bytes. Reading block by block, the
// decompressor answers an empty block (the end of a client's
// Z_PARTIAL_FLUSH) with no bytes and no error: read on, so that callers
// (waitFirst's one-byte read among them) never take that for data.
func (c *deflateConn) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		if n > 0 || err != nil || len(p) == 0 {
			return n, err
		}
	}
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

func (c *deflateConn) Close() error {
	c.r.Close()
	return c.Conn.Close()
}
