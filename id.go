package herald

import (
	"strconv"
	"strings"
)

// idPrefix starts every id a store generates.
const idPrefix = "urn:herald:"

// FormatID returns the id a store generates for the update at seq in the store
// instance identified by instance: "urn:herald:<instance>:<seq>". Because the
// instance is part of the id, a client holding an id from a wiped or
// different store is told it has a gap instead of being replayed from a wrong
// position. instance must not contain ':'.
func FormatID(instance string, seq uint64) string {
	b := make([]byte, 0, len(idPrefix)+len(instance)+1+20)
	b = append(b, idPrefix...)
	b = append(b, instance...)
	b = append(b, ':')
	b = strconv.AppendUint(b, seq, 10)
	return string(b)
}

// ParseID splits an id made by [FormatID]. ok is false for any other string,
// such as an id chosen by a publisher.
func ParseID(id string) (instance string, seq uint64, ok bool) {
	rest, found := strings.CutPrefix(id, idPrefix)
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(rest[i+1:], 10, 64)
	if err != nil || strings.ContainsRune(rest[:i], ':') {
		return "", 0, false
	}
	return rest[:i], seq, true
}
