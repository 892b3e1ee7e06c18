package inflate

import "fmt"

// Base lengths and extra bits of length codes 257..285, and base
// distances and extra bits of distance codes 0..29 (RFC 1951 3.2.5).
var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// codeLengthOrder is the order of the code length code's lengths in a
// dynamic header (RFC 1951 3.2.7).
var codeLengthOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamicHeader reads the code lengths of a dynamic block and builds its
// two codes (RFC 1951 3.2.7).
func (r *Reader) dynamicHeader() error {
	v, err := r.take(14)
	if err != nil {
		return err
	}
	r.commit()
	nlen, ndist, ncode := int(v&31)+257, int(v>>5&31)+1, int(v>>10)+4
	if nlen > maxLCodes || ndist > maxDCodes {
		return fmt.Errorf("%w: dynamic block declares %d literal/length and %d distance codes", ErrInvalid, nlen, ndist)
	}
	var cl [19]uint8
	for i := range ncode {
		l, err := r.take(3)
		if err != nil {
			return err
		}
		r.commit()
		cl[codeLengthOrder[i]] = uint8(l)
	}
	var lencode huffman
	if err := lencode.build(cl[:], "code length"); err != nil {
		return err
	}
	lengths := r.lengths[:nlen+ndist]
	for i := 0; i < len(lengths); {
		sym, err := r.symbol(&lencode)
		if err != nil {
			return err
		}
		if sym < 16 {
			r.commit()
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var l uint8
		var rep uint
		switch sym {
		case 16:
			if i == 0 {
				return fmt.Errorf("%w: repeat of the previous code length with none before", ErrInvalid)
			}
			l = lengths[i-1]
			rep, err = r.take(2)
			rep += 3
		case 17:
			rep, err = r.take(3)
			rep += 3
		default:
			rep, err = r.take(7)
			rep += 11
		}
		if err != nil {
			return err
		}
		r.commit()
		if i+int(rep) > len(lengths) {
			return fmt.Errorf("%w: code lengths repeated past the declared codes", ErrInvalid)
		}
		for range rep {
			lengths[i] = l
			i++
		}
	}
	if lengths[256] == 0 {
		return fmt.Errorf("%w: no end-of-block code", ErrInvalid)
	}
	if err := r.dyn[0].build(lengths[:nlen], "literal/length"); err != nil {
		return err
	}
	return r.dyn[1].build(lengths[nlen:], "distance")
}

// codes decodes the literals and matches of a Huffman block until want
// bytes are unread or the block ends. A literal, or a match with its
// length and distance, is one transaction: if the input would block in
// the middle, it is decoded again from its first bit on the next call.
func (r *Reader) codes(want int) error {
	for r.unread < want {
		sym, err := r.symbol(r.lcode)
		if err != nil {
			r.abort()
			return err
		}
		if sym < 256 {
			r.commit()
			r.put(byte(sym))
			continue
		}
		if sym == 256 {
			r.commit()
			r.state = stateHeader
			return nil
		}
		length, dist, err := r.match(sym)
		if err != nil {
			r.abort()
			return err
		}
		r.commit()
		for range length {
			r.put(r.window[(r.wpos-dist)&windowMask])
		}
	}
	return nil
}

// match decodes the rest of a match after its length symbol sym.
func (r *Reader) match(sym int) (length, dist int, err error) {
	sym -= 257
	if sym >= len(lengthBase) {
		return 0, 0, fmt.Errorf("%w: invalid length code %d", ErrInvalid, sym+257)
	}
	extra, err := r.take(uint(lengthExtra[sym]))
	if err != nil {
		return 0, 0, err
	}
	length = int(lengthBase[sym]) + int(extra)
	dsym, err := r.symbol(r.dcode)
	if err != nil {
		return 0, 0, err
	}
	if dsym >= len(distBase) {
		return 0, 0, fmt.Errorf("%w: invalid distance code %d", ErrInvalid, dsym)
	}
	extra, err = r.take(uint(distExtra[dsym]))
	if err != nil {
		return 0, 0, err
	}
	dist = int(distBase[dsym]) + int(extra)
	if dist > r.have {
		return 0, 0, fmt.Errorf("%w: distance %d too far back (%d bytes decoded)", ErrInvalid, dist, r.have)
	}
	return length, dist, nil
}
