package smtpd

import (
	"bufio"
	"errors"
	"io"
)

// dataReader reads a message sent with DATA (RFC 5321 4.1.1.4): lines up
// to the one holding a single ".", with the leading dot of every other
// line that starts with one removed (4.5.2, transparency). Only
// CR LF "." CR LF ends the message. It hands out what bufio.Reader holds,
// a line (or a buffer's worth of a long one) at a time, without copying
// byte by byte.
type dataReader struct {
	r       *bufio.Reader
	maxSize int64 // 0: no limit
	maxLine int   // 0: no limit
	size    int64 // octets handed out
	line    int   // octets of the current line so far
	midLine bool  // the last slice did not end a line
	rest    []byte
	err     error // once set, returned after rest
}

func newDataReader(r *bufio.Reader, maxSize int64, maxLine int) *dataReader {
	return &dataReader{r: r, maxSize: maxSize, maxLine: maxLine}
}

func (d *dataReader) Read(p []byte) (int, error) {
	for len(d.rest) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.rest)
	d.rest = d.rest[n:]
	return n, nil
}

// fill reads the next slice of the message into rest, or sets err: io.EOF
// at the end marker, ErrTooLongLine, ErrDataTooLarge, or the connection's
// error (io.ErrUnexpectedEOF when it closed).
func (d *dataReader) fill() {
	s, err := d.r.ReadSlice('\n')
	switch {
	case err == nil || errors.Is(err, bufio.ErrBufferFull):
	case errors.Is(err, io.EOF):
		d.err = io.ErrUnexpectedEOF
		return
	default:
		d.err = err
		return
	}
	if !d.midLine && len(s) > 0 && s[0] == '.' {
		if len(s) == 3 && s[1] == '\r' && s[2] == '\n' {
			d.err = io.EOF
			return
		}
		s = s[1:]
	}
	d.line += len(s)
	d.midLine = err != nil
	if d.maxLine > 0 && d.line > d.maxLine {
		d.err = ErrTooLongLine
		return
	}
	if !d.midLine {
		d.line = 0
	}
	d.size += int64(len(s))
	if d.maxSize > 0 && d.size > d.maxSize {
		d.err = ErrDataTooLarge
		return
	}
	d.rest = s
}

// drain reads the rest of the message after the Session's Data returned,
// without a size limit; it reports whether the end marker was reached,
// so that the connection can go on with the next command.
func (d *dataReader) drain() bool {
	d.rest = nil
	if errors.Is(d.err, ErrDataTooLarge) {
		d.err, d.maxSize = nil, 0
	}
	for d.err == nil {
		d.fill()
		d.rest = nil
	}
	return d.err == io.EOF
}
