package inflate

import (
	"fmt"
	"sync"
)

const (
	maxBits   = 15  // longest code (RFC 1951 3.2.7)
	maxLCodes = 286 // literal/length codes a dynamic header may declare
	maxDCodes = 30  // distance codes a dynamic header may declare
	fixLCodes = 288 // literal/length codes of the fixed code
)

// huffman is a canonical Huffman code as RFC 1951 3.2.2 builds it from
// code lengths alone: how many codes have each length, and the symbols
// ordered by code. Decoding walks the lengths one bit at a time, so it
// reads exactly the bits of one code and never more.
type huffman struct {
	count  [maxBits + 1]uint16 // count[n]: codes of length n (count[0]: unused symbols)
	symbol [fixLCodes]uint16   // symbols by code, shortest codes first
}

// build makes h the code of lengths (one per symbol, 0: symbol unused).
// It refuses an over-subscribed set (more codes than the lengths allow)
// and an incomplete one, except a single code of length 1, which zlib
// writes for a block with one distance or one literal and which RFC 1951
// 3.2.7 allows ("one distance code of one bit").
func (h *huffman) build(lengths []uint8, what string) error {
	h.count = [maxBits + 1]uint16{}
	for _, l := range lengths {
		h.count[l]++
	}
	if int(h.count[0]) == len(lengths) {
		return fmt.Errorf("%w: %s code has no codes", ErrInvalid, what)
	}
	left := 1 // codes of the current length still free
	for n := 1; n <= maxBits; n++ {
		left <<= 1
		left -= int(h.count[n])
		if left < 0 {
			return fmt.Errorf("%w: %s code is over-subscribed", ErrInvalid, what)
		}
	}
	if left > 0 && !(what != "code length" && h.count[0]+h.count[1] == uint16(len(lengths)) && h.count[1] == 1) {
		return fmt.Errorf("%w: %s code is incomplete", ErrInvalid, what)
	}
	var offs [maxBits + 1]uint16
	for n := 1; n < maxBits; n++ {
		offs[n+1] = offs[n] + h.count[n]
	}
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	return nil
}

// fixedCodes are the literal/length and distance codes of fixed blocks
// (RFC 1951 3.2.6), built once and only read afterwards.
var fixedCodes = sync.OnceValue(func() *[2]huffman {
	var lengths [fixLCodes]uint8
	for i := range lengths {
		switch {
		case i < 144:
			lengths[i] = 8
		case i < 256:
			lengths[i] = 9
		case i < 280:
			lengths[i] = 7
		default:
			lengths[i] = 8
		}
	}
	var h [2]huffman
	if err := h[0].build(lengths[:], "literal/length"); err != nil {
		panic(err)
	}
	// All 32 distance codes have 5 bits; 30 and 31 never occur in valid
	// data, which the decoder checks.
	for i := range 32 {
		lengths[i] = 5
	}
	if err := h[1].build(lengths[:32], "distance"); err != nil {
		panic(err)
	}
	return &h
})
