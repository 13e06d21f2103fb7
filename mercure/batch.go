package mercure

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
)

// BatchPath is where a [Handler] takes batches: many updates in one
// request, stored as one batch. It is a Herald extension of the Mercure
// protocol, under a path of its own ("herald/") so that it never clashes
// with one the protocol defines.
//
//	POST /.well-known/mercure/herald/batch
//	Authorization: Bearer <publisher JWT, or draft-08 access token>
//	Content-Type: application/x-ndjson
//
//	{"topic": "https://example.com/users/1", "data": "{\"unread\": 3}", "private": true}
//	{"topic": ["https://example.com/books/1", "https://example.com/alt/1"], "id": "book-1-v2", "type": "book.updated", "retry": 1500}
//
// Each line is one update: a JSON object with the fields of a publish form,
// "topic" (a string, or an array of strings whose first is canonical),
// "data", "id" and "type" (strings), "private" (true or false) and "retry"
// (whole milliseconds). Lines are read strictly: an unknown field, a field
// given twice, null, a value of another type, invalid UTF-8 or an empty line
// is refused; the last line break is optional. The whole batch is checked before anything
// is stored, each update as a form publish with the same token is (valid,
// its data within Config.MaxDataBytes, no reserved topic, allowed by the
// token's mercure.publish claim; with a draft-08 access token, allowed by
// its authorization details and held to draft 08's publish rules), then
// stored with one Store.AppendBatch: every
// update or none, with consecutive positions, delivered in order with
// nothing between them.
//
// A 200 answer is text/plain: the updates' ids, one per line, each followed
// by a line break, in the order of the lines. Any other answer is text/plain
// too, one line saying what is wrong. When a line of the batch is at fault,
// the message starts with "line N: " and the Herald-Batch-Line header holds
// N (from 1); nothing was stored. Lines are checked in order and the first
// at fault is named; an id held in history is found when the checked batch
// is stored:
//
//	400 a line that is not such an object, or an invalid update
//	401 no valid publisher token
//	403 a topic the token may not publish to, or a reserved one; a cookie
//	    token from a page on another origin than an allowed one
//	408 the body did not arrive within Config.BodyTimeout
//	409 an id held in history, or given to an earlier line of the batch
//	413 more than Config.MaxBatch lines, a body over
//	    Config.MaxBatchBodyBytes, or data over Config.MaxDataBytes
//	415 another Content-Type than application/x-ndjson
//	503 the store is unavailable, or the hub is shutting down
const BatchPath = Path + "/herald/batch"

// BatchLineHeader is the response header that names, from 1, the line of a
// refused batch that is at fault.
const BatchLineHeader = "Herald-Batch-Line"

// ndjsonMediaType is the media type of a batch body.
const ndjsonMediaType = "application/x-ndjson"

// isNDJSON reports whether a Content-Type is ndjsonMediaType.
func isNDJSON(ct string) bool {
	if asciiEqualFold(ct, ndjsonMediaType) {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == ndjsonMediaType
}

// publishBatch accepts a batch of updates and answers with their ids.
func (h *Handler) publishBatch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	_ = http.NewResponseController(w).SetReadDeadline(start.Add(h.cfg.BodyTimeout))
	claims, is08 := h.batchPublisher(w, r)
	if claims == nil {
		return
	}
	if ct := r.Header.Get("Content-Type"); !isNDJSON(ct) {
		h.cfg.Metrics.PublishError("invalid")
		httpError(w, http.StatusUnsupportedMediaType, "publish a batch with Content-Type: %s (one JSON object per line), not %q", ndjsonMediaType, ct)
		return
	}
	limit := h.cfg.MaxBatchBodyBytes
	if r.ContentLength < 0 || r.ContentLength > limit {
		// As for a form: the server must learn that the limit was hit, to
		// close the connection rather than drain the rest.
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	fb := formBufs.Get().(*formBuf)
	defer fb.release()
	var err error
	if fb.b, err = readBody(fb.b[:0], r.Body, r.ContentLength, limit); err != nil {
		h.bodyError(w, err, "the limit on a batch body", limit, "reading the body: ")
		return
	}

	us := make([]herald.Update, 0, min(bytes.Count(fb.b, []byte{'\n'})+1, h.cfg.MaxBatch))
	f := lineFields{topics: fb.topics[:0]}
	n := 0 // the line being read, from 1
	for rest := fb.b; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		n++
		if n > h.cfg.MaxBatch {
			h.refuse(w, &refusal{status: http.StatusRequestEntityTooLarge, reason: "too_large",
				message: fmt.Sprintf("more than %d updates in one batch, the limit", h.cfg.MaxBatch)}, n)
			return
		}
		err := parseLine(line, h.cfg.MaxTopics, &f)
		var u herald.Update
		if err == nil {
			u = f.update(line)
			err = u.Validate()
		}
		if err == nil && is08 {
			err = h.check08(r, &u)
		}
		if err != nil {
			h.refuse(w, &refusal{status: http.StatusBadRequest, reason: "invalid", message: reason(err)}, n)
			return
		}
		if rf := h.checkUpdate(r, claims, &u, is08); rf != nil {
			h.refuse(w, rf, n)
			return
		}
		us = append(us, u)
	}
	fb.topics = f.topics

	stored, err := h.cfg.Hub.PublishBatch(r.Context(), us)
	if err != nil {
		if be, ok := errors.AsType[*herald.BatchError](err); ok && be.Index < len(us) {
			id := us[be.Index].ID
			if dup := firstUse(us[:be.Index], id); dup >= 0 {
				h.refuse(w, &refusal{status: http.StatusConflict, reason: "conflict",
					message: fmt.Sprintf("the id %q is the id of line %d of the batch; give each update its own id (or none)", id, dup+1)}, be.Index+1)
				return
			}
			h.publishFailed(w, be.Err, be.Index+1, id)
			return
		}
		h.publishFailed(w, err, 0, "")
		return
	}
	h.observePublish(start)
	size := 0
	for i := range stored {
		size += len(stored[i].ID) + 1
	}
	out := make([]byte, 0, size)
	for i := range stored {
		out = append(out, stored[i].ID...)
		out = append(out, '\n')
	}
	hdr := w.Header()
	hdr["Content-Type"] = textPlain
	hdr["Cache-Control"] = noStore
	hdr["Content-Length"] = contentLength(len(out))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// batchPublisher returns the claims of the token a batch presents, and
// whether it is a draft-08 access token, as the publish endpoint decides
// (see publishGeneration): an access token, or the draft-08 cookie, is held
// to draft 08's rules, any other token to draft 07's, and a generation the
// hub does not serve is refused. It answers and returns nil claims when the
// batch may not be published.
func (h *Handler) batchPublisher(w http.ResponseWriter, r *http.Request) (claims *auth.Claims, is08 bool) {
	switch is08 = h.draft08Publish(r); {
	case is08 && h.cfg.Protocol.serves08():
		return h.publisher08(w, r), true
	case is08:
		h.cfg.Metrics.PublishError("unauthorized")
		h.refuseGeneration(w, true)
		return nil, true
	case h.cfg.Protocol.serves07():
		return h.publisher(w, r), false
	default:
		h.cfg.Metrics.PublishError("unauthorized")
		if tok, _ := auth.TokenFromRequest(r); tok != "" {
			h.refuseGeneration(w, false)
			return nil, false
		}
		h.cfg.Metrics.AuthFailure("missing")
		h.refuse08(w, r, noTokenError{"publishing a batch requires an access token (Authorization: Bearer <token>) granting publish on every topic of its updates"})
		return nil, false
	}
}

// firstUse is the index of the first update of us with id, or -1.
func firstUse(us []herald.Update, id string) int {
	if id == "" {
		return -1
	}
	for i := range us {
		if us[i].ID == id {
			return i
		}
	}
	return -1
}

// batchLimits checks and completes the batch limits of cfg.
func batchLimits(cfg *Config) error {
	switch {
	case cfg.MaxBatch <= 0:
		cfg.MaxBatch = DefaultMaxBatch
	case cfg.MaxBatch > herald.MaxBatchLen:
		return fmt.Errorf("mercure: Config.MaxBatch is %d, more than a store takes in one batch (%d)", cfg.MaxBatch, herald.MaxBatchLen)
	}
	if cfg.MaxBatchBodyBytes <= 0 {
		cfg.MaxBatchBodyBytes = DefaultMaxBatchBodyBytes
	}
	return nil
}
