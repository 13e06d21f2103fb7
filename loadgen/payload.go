package loadgen

import "strconv"

// The data of every event the load generator publishes is
//
//	<publisher>.<seq>.<unix nanoseconds>.xxxx…
//
// padded with 'x' to the event size: the publisher's index, the sequence
// number of the event among those that publisher sent to this topic (from 1),
// and the time it was sent. Subscribers use them to measure latency and to
// detect lost, duplicated or reordered events. Only characters that need no
// escaping in a form body are used.

// appendPayload appends the payload of one event, padded to size bytes (or
// longer when the header alone is longer).
func appendPayload(dst []byte, pub int, seq uint64, unixNano int64, size int) []byte {
	start := len(dst)
	dst = strconv.AppendInt(dst, int64(pub), 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, unixNano, 10)
	dst = append(dst, '.')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// parsePayload reads the header of a payload. ok is false when data is not a
// load generator payload.
func parsePayload(data []byte) (pub int, seq uint64, unixNano int64, ok bool) {
	var fields [3]uint64
	i := 0
	for f := range fields {
		start := i
		var v uint64
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			v = v*10 + uint64(data[i]-'0')
			i++
		}
		if i == start || i-start > 20 || i >= len(data) || data[i] != '.' {
			return 0, 0, 0, false
		}
		i++
		fields[f] = v
	}
	return int(fields[0]), fields[1], int64(fields[2]), true
}
