// Package inflate decodes raw DEFLATE streams (RFC 1951) for a peer that
// is waiting on our answer: it never reads a bit of input that the data
// decoded so far does not need, and it hands out decoded bytes before it
// asks for more input. That is what COMPRESS=DEFLATE (RFC 4978) needs
// from a server: a client that flushes with zlib's Z_PARTIAL_FLUSH ends
// a command in the middle of a byte, and sends the rest of that byte only
// with its next command, which comes after our answer.
//
// Huffman codes are decoded one bit at a time from the counts of each
// code length (the canonical code of RFC 1951 3.2.2), as zlib's "puff"
// reference decoder does: slow next to table-driven decoders, but it
// cannot read ahead, and client → server traffic is small.
package inflate

import (
	"errors"
	"fmt"
	"io"
)

// ErrInvalid is wrapped by every error about the stream itself (a bad
// block type, bad code lengths, a distance too far back, ...).
var ErrInvalid = errors.New("inflate: invalid DEFLATE stream")

// errSuspend stops decoding in the middle of a code when the next input
// byte is not there yet and decoded bytes are waiting to be handed out.
var errSuspend = errors.New("inflate: input would block")

const (
	windowSize = 1 << 15 // RFC 1951 2: distances reach back 32 KiB
	windowMask = windowSize - 1
	maxMatch   = 258
	// maxUnread bounds the decoded bytes not handed out yet, so that a
	// match never overwrites them in the window.
	maxUnread = windowSize - maxMatch
)

// Buffered is what a Reader's input may implement (bufio.Reader does):
// the number of bytes it can give without blocking. With it, a Reader
// hands out what it has decoded before it reads a byte that is not
// there yet; without it, at the end of every block.
type Buffered interface {
	Buffered() int
}

type state uint8

const (
	stateHeader  state = iota // at a block header (or the end, after the final block)
	stateStored               // in a stored block, stored bytes left
	stateHuffman              // in a fixed or dynamic block
)

// Reader decompresses a raw DEFLATE stream read from an io.ByteReader.
// Read returns decoded bytes as soon as a block ends or the input has
// no more bytes buffered (see Buffered), and io.EOF after the final
// block. A Reader allocates nothing per byte; its zero value is not
// usable, see NewReader.
type Reader struct {
	in  io.ByteReader
	buf Buffered // in, if it tells how much it has buffered
	err error    // sticky: the stream's error, or io.EOF

	// Input bits, least significant first (RFC 1951 3.1.1). One code
	// with its extra bits is decoded as a transaction: pos bits are
	// taken, and dropped from bits only when the whole code is decoded,
	// so that a suspended code starts again from its first bit.
	bits  uint64
	nbits uint
	pos   uint

	state    state
	inHeader bool   // past the first bits of a block header, not at its end
	final    bool   // the current block is the last one
	stored   uint16 // bytes left in the current stored block
	lcode    *huffman
	dcode    *huffman
	dyn      [2]huffman // the codes of the current dynamic block

	window [windowSize]byte
	wpos   int // where the next decoded byte goes in window
	have   int // bytes of history in window (at most windowSize)
	unread int // decoded bytes, just before wpos, not handed out yet

	lengths [maxLCodes + maxDCodes]uint8 // scratch of dynamic headers
}

// NewReader returns a Reader of the raw DEFLATE stream in. When in
// implements Buffered, decoded bytes are handed out before the Reader
// waits for input.
func NewReader(in io.ByteReader) *Reader {
	r := new(Reader)
	r.Reset(in)
	return r
}

// Reset makes r read a new stream from in, forgetting the old one.
func (r *Reader) Reset(in io.ByteReader) {
	*r = Reader{in: in, window: r.window}
	r.buf, _ = in.(Buffered)
}

// Read decodes into p. It returns as soon as it has some bytes when a
// block ends or when the input has none buffered; errors of the stream
// wrap ErrInvalid, and an input that ends before the final block gives
// io.ErrUnexpectedEOF. An error of the input itself (a read deadline)
// is returned as it is, and Read may be called again after it unless it
// came inside a block header.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for r.unread == 0 {
		if r.err != nil {
			return 0, r.err
		}
		err := r.decode(min(len(p), maxUnread))
		switch {
		case err == nil || err == errSuspend:
		case r.retryable(err) && r.unread == 0:
			return 0, err
		case r.retryable(err):
			// The bytes decoded first; the input's error comes again
			// on the next Read if it lasts.
		default:
			r.err = err
		}
	}
	return r.copyOut(p), nil
}

// retryable reports whether err is the input's (a read deadline, say)
// and came where decoding can start again: between codes, or inside a
// code, which is then decoded again from its first bit. Inside a
// block header, or once the stream is known bad or ended, an error
// stays.
func (r *Reader) retryable(err error) bool {
	return !r.inHeader && err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrInvalid)
}

// copyOut moves unread bytes from the window into p.
func (r *Reader) copyOut(p []byte) int {
	start := (r.wpos - r.unread) & windowMask
	n := min(len(p), r.unread)
	end := start + n
	if end <= windowSize {
		copy(p, r.window[start:end])
	} else {
		k := copy(p, r.window[start:])
		copy(p[k:], r.window[:end-windowSize])
	}
	r.unread -= n
	return n
}

// decode decodes until want bytes are unread, a block ends with bytes
// unread, the input would block with bytes unread (errSuspend), or the
// stream ends (io.EOF) or fails.
func (r *Reader) decode(want int) error {
	for {
		var err error
		switch r.state {
		case stateHeader:
			if r.final {
				return io.EOF
			}
			err = r.header()
		case stateStored:
			err = r.storedData(want)
		case stateHuffman:
			err = r.codes(want)
		}
		if err != nil {
			return err
		}
		if r.unread >= want || (r.state == stateHeader && r.unread > 0) {
			return nil
		}
	}
}

// need makes sure that pos+n bits are buffered. It reads a byte only
// when the bits are needed, and then first returns errSuspend if
// decoded bytes wait and the input has nothing buffered.
func (r *Reader) need(n uint) error {
	for r.nbits < r.pos+n {
		if r.unread > 0 && r.buf != nil && r.buf.Buffered() == 0 {
			return errSuspend
		}
		c, err := r.in.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		r.bits |= uint64(c) << r.nbits
		r.nbits += 8
	}
	return nil
}

// take returns the next n bits of the current transaction (n <= 16).
func (r *Reader) take(n uint) (uint, error) {
	if err := r.need(n); err != nil {
		return 0, err
	}
	v := uint(r.bits>>r.pos) & (1<<n - 1)
	r.pos += n
	return v, nil
}

// commit drops the bits of a decoded transaction; abort forgets it.
func (r *Reader) commit() {
	r.bits >>= r.pos
	r.nbits -= r.pos
	r.pos = 0
}

func (r *Reader) abort() { r.pos = 0 }

// symbol decodes one code of h, reading its bits one at a time.
func (r *Reader) symbol(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for n := 1; n <= maxBits; n++ {
		if r.nbits <= r.pos {
			if err := r.need(1); err != nil {
				return 0, err
			}
		}
		code |= int(r.bits>>r.pos) & 1
		r.pos++
		count := int(h.count[n])
		if code-count < first {
			return int(h.symbol[index+code-first]), nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, fmt.Errorf("%w: code not in the block's Huffman code", ErrInvalid)
}

// header reads a block header (RFC 1951 3.2.3), and the code lengths of
// a dynamic block. No bytes are unread here (decode returns at a block
// end), so it may wait for input.
func (r *Reader) header() error {
	v, err := r.take(3)
	if err != nil {
		r.abort()
		return err
	}
	r.commit()
	r.final = v&1 == 1
	r.inHeader = true
	if err := r.blockType(v >> 1); err != nil {
		return err
	}
	r.inHeader = false
	return nil
}

// blockType reads the rest of a header of block type t.
func (r *Reader) blockType(t uint) error {
	switch t {
	case 0:
		return r.storedHeader()
	case 1:
		fixed := fixedCodes()
		r.lcode, r.dcode = &fixed[0], &fixed[1]
		r.state = stateHuffman
		return nil
	case 2:
		if err := r.dynamicHeader(); err != nil {
			return err
		}
		r.lcode, r.dcode = &r.dyn[0], &r.dyn[1]
		r.state = stateHuffman
		return nil
	}
	return fmt.Errorf("%w: block type 3", ErrInvalid)
}

// storedHeader skips to a byte boundary and reads LEN and NLEN
// (RFC 1951 3.2.4).
func (r *Reader) storedHeader() error {
	r.bits >>= r.nbits % 8
	r.nbits -= r.nbits % 8
	v, err := r.take(16)
	if err != nil {
		return err
	}
	nv, err := r.take(16)
	if err != nil {
		return err
	}
	r.commit()
	if uint16(v) != ^uint16(nv) {
		return fmt.Errorf("%w: stored block length %d does not match its complement", ErrInvalid, v)
	}
	r.stored = uint16(v)
	r.state = stateStored
	return nil
}

// storedData copies a stored block's bytes to the window.
func (r *Reader) storedData(want int) error {
	for r.stored > 0 {
		if r.unread >= want {
			return nil
		}
		// After the header the bit buffer is byte-aligned and empty.
		if err := r.need(8); err != nil {
			return err
		}
		r.put(byte(r.bits))
		r.bits >>= 8
		r.nbits -= 8
		r.stored--
	}
	r.state = stateHeader
	return nil
}

func (r *Reader) put(c byte) {
	r.window[r.wpos] = c
	r.wpos = (r.wpos + 1) & windowMask
	r.unread++
	if r.have < windowSize {
		r.have++
	}
}
