package sse

import (
	"encoding/binary"
	"unicode/utf8"
)

// appendUTF8 appends src to dst decoded as the WHATWG Encoding standard's
// UTF-8 decoder does: valid sequences are copied and each maximal subpart of
// an ill-formed sequence becomes one U+FFFD. That differs from
// [utf8.DecodeRune], which yields one U+FFFD per byte: "\xE2\x82A" decodes
// to "\uFFFDA", not "\uFFFD\uFFFDA". src must be a whole line (or field),
// so a truncated sequence at its end becomes one U+FFFD.
func appendUTF8(dst, src []byte) []byte {
	for len(src) > 0 {
		// Copy the longest valid prefix in one go.
		i := 0
		for i < len(src) {
			if src[i] < utf8.RuneSelf {
				i++
				continue
			}
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		dst = append(dst, src[:i]...)
		if i == len(src) {
			return dst
		}
		dst = append(dst, "\uFFFD"...)
		src = src[i+invalidLen(src[i:]):]
	}
	return dst
}

// invalidLen returns the length of the maximal subpart of the ill-formed
// sequence at the start of p: the bytes the WHATWG UTF-8 decoder consumes
// before it reports an error, at least 1.
func invalidLen(p []byte) int {
	b := p[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case b >= 0xC2 && b <= 0xDF:
		need = 1
	case b >= 0xE0 && b <= 0xEF:
		need = 2
		if b == 0xE0 {
			lo = 0xA0
		} else if b == 0xED {
			hi = 0x9F
		}
	case b >= 0xF0 && b <= 0xF4:
		need = 3
		if b == 0xF0 {
			lo = 0x90
		} else if b == 0xF4 {
			hi = 0x8F
		}
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(p); n++ {
		if p[n] < lo || p[n] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return n
}

// validPrefix returns the length of the longest prefix of p that is valid
// UTF-8 and ends at a character boundary: up to the first byte that starts
// an ill-formed or truncated sequence.
func validPrefix(p []byte) int {
	i := 0
	for i < len(p) {
		// ASCII, sixteen then eight bytes at a time.
		const hi = 0x8080808080808080
		for i+16 <= len(p) && (binary.LittleEndian.Uint64(p[i:])|binary.LittleEndian.Uint64(p[i+8:]))&hi == 0 {
			i += 16
		}
		if i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&hi == 0 {
			i += 8
		}
		if i == len(p) {
			break
		}
		if p[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return i
}
