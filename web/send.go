package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herald-sse/herald"
)

// sendRequest is the JSON body of POST /demo/send. A form body with a
// "data" field is accepted too.
type sendRequest struct {
	Data string `json:"data"`
}

// sendResponse answers a message that was published.
type sendResponse struct {
	ID string `json:"id"`
}

// serveSend publishes a visitor's message to the demo topic.
func (d *Demo) serveSend(w http.ResponseWriter, r *http.Request) {
	if d.cors(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "send a message with POST")
		return
	}
	if !d.cfg.AllowPublish {
		httpError(w, http.StatusForbidden, "sending from the demo page is turned off on this hub (--demo=false); "+
			"publish to %s with a publisher token instead", "/.well-known/mercure")
		return
	}
	if ok, wait := d.sends.allow(clientKey(r), time.Now()); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		httpError(w, http.StatusTooManyRequests, "slow down: the demo accepts %s per client (%d at once); try again in %s",
			perSecond(d.cfg.SendRate), d.cfg.SendBurst, wait.Round(100*time.Millisecond))
		return
	}

	// JSON may escape a byte as 6 ("\u00e9"), a form as 3 ("%C3").
	r.Body = http.MaxBytesReader(w, r.Body, int64(6*d.cfg.MaxMessageBytes+512))
	text, err := d.readMessage(r)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok || errors.Is(err, herald.ErrTooLarge) {
			httpError(w, http.StatusRequestEntityTooLarge, "the message is too long: the limit is %d bytes", d.cfg.MaxMessageBytes)
			return
		}
		status := http.StatusBadRequest
		if errors.Is(err, errMediaType) {
			status = http.StatusUnsupportedMediaType
		}
		httpError(w, status, "%s", strings.TrimPrefix(err.Error(), herald.ErrInvalid.Error()+": "))
		return
	}

	ctx := r.Context()
	stored, ok := d.publish(ctx, herald.Update{Topics: []string{d.cfg.Topic}, Data: text})
	if !ok {
		httpError(w, http.StatusServiceUnavailable, "the hub could not publish the message; try again")
		return
	}
	d.publish(ctx, herald.Update{
		Topics: []string{d.cfg.Topic},
		Type:   "announce",
		Data: fmt.Sprintf("Someone sent a message (%d characters). %s here.",
			utf8.RuneCountInString(text), capitalize(people(d.streams.Load()))),
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(sendResponse{ID: stored.ID})
}

var errMediaType = fmt.Errorf("%w: send JSON {\"data\": \"...\"} or a form with a data field", herald.ErrInvalid)

// readMessage reads the message from r's JSON or form body and checks it.
func (d *Demo) readMessage(r *http.Request) (string, error) {
	var text string
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var req sendRequest
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return "", err
			}
			return "", fmt.Errorf("%w: malformed JSON: %v; send {\"data\": \"your message\"}", herald.ErrInvalid, err)
		}
		text = req.Data
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return "", err
			}
			return "", fmt.Errorf("%w: malformed form: %v", herald.ErrInvalid, err)
		}
		text = r.PostForm.Get("data")
	default:
		return "", errMediaType
	}
	switch {
	case len(text) > d.cfg.MaxMessageBytes:
		return "", fmt.Errorf("%w: message is %d bytes", herald.ErrTooLarge, len(text))
	case strings.TrimSpace(text) == "":
		return "", fmt.Errorf("%w: the message is empty", herald.ErrInvalid)
	case !utf8.ValidString(text):
		return "", fmt.Errorf("%w: the message is not valid UTF-8", herald.ErrInvalid)
	case strings.ContainsRune(text, 0):
		return "", fmt.Errorf("%w: the message contains a NUL character", herald.ErrInvalid)
	}
	return text, nil
}

func perSecond(r float64) string {
	if r >= 1 {
		return fmt.Sprintf("%g messages a second", r)
	}
	return fmt.Sprintf("one message every %s", time.Duration(float64(time.Second)/r).Round(time.Millisecond))
}
