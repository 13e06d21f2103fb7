package herald

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Update is one event published to one or more topics.
//
// An Update is a value: once a [Store] has returned it from Append, no layer
// modifies it, so it can be shared by every subscriber it is delivered to.
type Update struct {
	// ID is the event id subscribers see in the "id:" field and send back in
	// Last-Event-ID. A publisher may choose it; when it is empty the store
	// assigns one (see [FormatID]).
	ID string
	// Topics are the topics the update is about. The first is the canonical
	// one; the others are alternates. An update has at least one topic.
	Topics []string
	// Private updates are delivered only to subscribers whose authorization
	// selects at least one of Topics.
	Private bool
	// Type is the SSE event type ("event:" field); empty means "message".
	Type string
	// Data is the payload ("data:" field). It may contain line breaks.
	Data string
	// Retry, when positive, is sent as the "retry:" field (milliseconds).
	Retry time.Duration

	// Seq is the update's position in its store's single global order. It is
	// assigned by Store.Append, strictly increases with each append, and is
	// never reused by the same store instance.
	Seq uint64
	// Time is when the store accepted the update. It drives retention by age.
	Time time.Time
}

// Limits on what an Update may hold, enforced by [Update.Validate].
const (
	// MaxIDLength is the longest event id accepted, in bytes.
	MaxIDLength = 256
	// MaxTypeLength is the longest event type accepted, in bytes.
	MaxTypeLength = 256
	// MaxTopicLength is the longest topic accepted, in bytes.
	MaxTopicLength = 2048
)

// Validate reports, with an error wrapping [ErrInvalid], the first reason why u
// cannot be published: no topic, a topic that is empty, too long, not UTF-8
// or holds a control character, a type that holds CR, LF or NUL (which would
// let a publisher inject SSE fields), an id that a browser could not send
// back intact in Last-Event-ID (too long, not UTF-8, a control character, a
// leading or trailing space), an id that starts with '#' (reserved), an id
// that is "earliest" or starts with "urn:herald:" (reserved for ids the hub
// mints), or a negative retry. It does not check Seq or Time.
func (u *Update) Validate() error {
	if len(u.Topics) == 0 {
		return fmt.Errorf("%w: at least one topic is required", ErrInvalid)
	}
	for _, t := range u.Topics {
		if err := ValidateTopic(t); err != nil {
			return err
		}
	}
	if err := validateID(u.ID); err != nil {
		return err
	}
	if strings.HasPrefix(u.ID, "#") {
		return fmt.Errorf("%w: id must not start with '#'", ErrInvalid)
	}
	if u.ID == EarliestID || strings.HasPrefix(u.ID, idPrefix) {
		return fmt.Errorf("%w: id %q is reserved: ids starting with %q are minted by the hub", ErrInvalid, u.ID, idPrefix)
	}
	if len(u.Type) > MaxTypeLength {
		return fmt.Errorf("%w: type is %d bytes long, the limit is %d", ErrInvalid, len(u.Type), MaxTypeLength)
	}
	if strings.ContainsAny(u.Type, "\r\n\x00") {
		return fmt.Errorf("%w: type must not contain CR, LF or NUL", ErrInvalid)
	}
	if u.Retry < 0 {
		return fmt.Errorf("%w: retry must not be negative", ErrInvalid)
	}
	return nil
}

// validateID reports why id cannot be an event id: one that a browser could
// not send back intact in Last-Event-ID, so that resuming from it would
// silently start elsewhere (or be refused). It must be at most MaxIDLength
// bytes of UTF-8 without control characters (C0, DEL, C1: CR, LF and NUL
// would also let a publisher inject SSE fields), and must not start or end
// with a space (the event stream parser drops one leading space, HTTP drops
// surrounding ones).
func validateID(id string) error {
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: id is %d bytes long, the limit is %d", ErrInvalid, len(id), MaxIDLength)
	}
	if strings.ContainsAny(id, "\r\n\x00") {
		return fmt.Errorf("%w: id must not contain CR, LF or NUL", ErrInvalid)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: id is not valid UTF-8", ErrInvalid)
	}
	for _, r := range id {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return fmt.Errorf("%w: id contains control character %U, which a browser cannot send back in Last-Event-ID", ErrInvalid, r)
		}
	}
	if id != "" && (id[0] == ' ' || id[len(id)-1] == ' ') {
		return fmt.Errorf("%w: id must not start or end with a space, which a browser does not send back in Last-Event-ID", ErrInvalid)
	}
	return nil
}

// ValidateTopic reports, with an error wrapping [ErrInvalid], why t is not a
// valid topic: empty, longer than [MaxTopicLength], not valid UTF-8, or holding
// a C0 or C1 control character or DEL.
func ValidateTopic(t string) error {
	if t == "" {
		return fmt.Errorf("%w: topic must not be empty", ErrInvalid)
	}
	if len(t) > MaxTopicLength {
		return fmt.Errorf("%w: topic is %d bytes long, the limit is %d", ErrInvalid, len(t), MaxTopicLength)
	}
	if !utf8.ValidString(t) {
		return fmt.Errorf("%w: topic is not valid UTF-8", ErrInvalid)
	}
	for _, r := range t {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return fmt.Errorf("%w: topic contains control character %U", ErrInvalid, r)
		}
	}
	return nil
}
