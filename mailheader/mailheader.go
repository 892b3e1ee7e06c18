// Package mailheader is the one reader of message headers (RFC 5322 2.2,
// 3.6) and of the address lists in their fields (3.4), for every package:
// the MTA's cleanup and checks, local injection (sendmail), vacation
// replies and IMAP. It reads with emersion/go-message's textproto, the
// library imapd's FETCH also parses MIME parts with, so every package
// agrees on where a header ends and what its fields are.
package mailheader

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"sync"

	"github.com/emersion/go-message/textproto"
)

// MaxSize bounds the bytes read for a header section; a header larger
// than this is read up to the limit and reported with ErrTooLarge.
const MaxSize = 1 << 20

var (
	// ErrMalformed: the header section ended at a line that is neither a
	// field nor the continuation of one; what follows is the body.
	ErrMalformed = errors.New("header line is neither a field nor a continuation")
	// ErrTooLarge: the header section is larger than MaxSize.
	ErrTooLarge = fmt.Errorf("header section larger than %d bytes", MaxSize)
)

// Header is the header section of a message: its fields in order, each
// with its own bytes (textproto.Header: Get returns the first field's
// unfolded value, FieldsByKey every field of a name, Has and Del).
// Field names are matched case-insensitively and with the white space
// the obsolete syntax allows before the colon ("From :" is From, RFC
// 5322 4.5.8).
type Header struct {
	textproto.Header
	// Size is the length in bytes of the header section as read,
	// including the empty line that ends it (the body starts there).
	// It is exact when Err is nil; the whole message when it has no body.
	Size int
	// Err says why reading stopped early: ErrMalformed (the fields before
	// the bad line are kept), ErrTooLarge, or the reader's error.
	// Readers that only look at fields may ignore it, as Postfix's
	// cleanup treats what it cannot read as body.
	Err error
}

// Parse reads the header section at the start of msg (CRLF or LF line
// ends). It never fails; Header.Err says whether it stopped early.
func Parse(msg []byte) Header {
	return Read(bytes.NewReader(msg))
}

// Read reads the header section from r, at most MaxSize+1 bytes of it. It
// may read past the header's end (buffering); use Parse when the body
// must follow.
func Read(r io.Reader) Header {
	cr := &countingReader{r: io.LimitReader(r, MaxSize+1)}
	br := readers.Get().(*bufio.Reader)
	br.Reset(cr)
	th, err := textproto.ReadHeader(br) // copies what it keeps
	h := Header{Header: th, Size: cr.n - br.Buffered()}
	br.Reset(nil)
	readers.Put(br)
	switch {
	case cr.err != nil && !errors.Is(cr.err, io.EOF):
		h.Err = fmt.Errorf("mailheader: read: %w", cr.err)
	case err != nil:
		h.Err = fmt.Errorf("%w (%v)", ErrMalformed, err)
	case h.Size > MaxSize:
		h.Err = ErrTooLarge
	}
	return h
}

// readers holds the read buffers of Read: a message's header is parsed
// several times on its way (DKIM, the filter, the session), each a 4 KiB
// buffer otherwise. A package-level pool, as imapd's and maildir's: it
// holds no state between calls, only memory.
var readers = sync.Pool{New: func() any { return bufio.NewReader(nil) }}

// countingReader counts the bytes it returns and keeps the last error.
type countingReader struct {
	r   io.Reader
	n   int
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if err != nil {
		c.err = err
	}
	return n, err
}

// Addresses returns the addresses of every field called name, in order (a
// message may repeat To or Cc). The first field that is not an address
// list is the error.
func (h *Header) Addresses(name string) ([]string, error) {
	var out []string
	for f := h.FieldsByKey(name); f.Next(); {
		list, err := ParseAddressList(f.Value())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Key(), err)
		}
		out = append(out, list...)
	}
	return out, nil
}

// ParseAddressList returns the addr-specs of an address-list field value
// (RFC 5322 3.4), in order, as written (not normalised): mailboxes with
// or without a display name, the members of groups (an empty group such
// as "undisclosed-recipients:;" gives none), comments. Display names are
// skipped, so an encoded word (RFC 2047) in any charset, known or not, is
// accepted. A folded value is unfolded first (RFC 5322 2.2.3). An empty
// value, or anything else, is an error.
func ParseAddressList(v string) ([]string, error) {
	// A word decoder that takes every charset as it is: the display
	// names are not used.
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
	list, err := p.ParseList(unfold.Replace(v))
	if err != nil {
		return nil, fmt.Errorf("not an address list: %w", err)
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
	}
	return out, nil
}

// unfold removes the line breaks of folding white space (RFC 5322 2.2.3).
var unfold = strings.NewReplacer("\r\n ", " ", "\r\n\t", "\t", "\n ", " ", "\n\t", "\t")
