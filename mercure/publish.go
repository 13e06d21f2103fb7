package mercure

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
)

// publish accepts a form-encoded update and answers with its id.
func (h *Handler) publish(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	claims, from, err := h.token(r, h.cfg.Publishers, "publisher")
	if err != nil {
		h.cfg.Metrics.PublishError("unauthorized")
		httpError(w, http.StatusUnauthorized, "invalid publisher token: %v", err)
		return
	}
	if claims == nil {
		h.cfg.Metrics.AuthFailure("missing")
		h.cfg.Metrics.PublishError("unauthorized")
		httpError(w, http.StatusUnauthorized, "publishing requires a token with a mercure.publish claim (Authorization: Bearer <JWT>)")
		return
	}
	if from == auth.SourceCookie && !h.originAllowed(r) {
		h.cfg.Metrics.AuthFailure("forbidden")
		h.cfg.Metrics.PublishError("forbidden")
		httpError(w, http.StatusForbidden, "%v", errForbiddenOrigin)
		return
	}

	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			h.cfg.Metrics.PublishError("invalid")
			httpError(w, http.StatusUnsupportedMediaType, "publish with Content-Type: application/x-www-form-urlencoded, not %q", ct)
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.cfg.Metrics.PublishError("too_large")
			httpError(w, http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes", h.cfg.MaxBodyBytes)
			return
		}
		h.cfg.Metrics.PublishError("invalid")
		httpError(w, http.StatusBadRequest, "malformed form body: %v", err)
		return
	}
	u, err := h.parseUpdate(r)
	if err != nil {
		h.cfg.Metrics.PublishError("invalid")
		httpError(w, http.StatusBadRequest, "%s", reason(err))
		return
	}
	for _, t := range u.Topics {
		if reserved(t) {
			h.cfg.Metrics.PublishError("forbidden")
			httpError(w, http.StatusForbidden, "topic %q is reserved for events the hub publishes itself", t)
			return
		}
	}
	if !claims.CanPublish(u.Topics) {
		h.cfg.Metrics.AuthFailure("forbidden")
		h.cfg.Metrics.PublishError("forbidden")
		httpError(w, http.StatusForbidden, "the token's mercure.publish claim does not allow publishing to %s", quoteList(u.Topics))
		return
	}
	stored, err := h.cfg.Hub.Publish(r.Context(), u)
	if err != nil {
		status := StatusCode(err)
		h.cfg.Metrics.PublishError(reasonOf(status))
		if status >= 500 {
			h.cfg.Logger.Warn("publish failed", "status", status, "err", err)
		}
		httpError(w, status, "publish failed: %v", err)
		return
	}
	if m, ok := h.cfg.Metrics.(interface{ ObservePublish(time.Duration) }); ok {
		m.ObservePublish(time.Since(start))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(stored.ID))
}

// parseUpdate reads the update fields from r's parsed form.
func (h *Handler) parseUpdate(r *http.Request) (herald.Update, error) {
	f := r.PostForm
	var u herald.Update
	u.Topics = f["topic"]
	if len(u.Topics) == 0 {
		return u, invalid(`missing "topic" field`)
	}
	if len(u.Topics) > h.cfg.MaxTopics {
		return u, invalid("too many topics: %d, the limit is %d", len(u.Topics), h.cfg.MaxTopics)
	}
	for _, k := range []string{"data", "id", "type", "retry", "private"} {
		if len(f[k]) > 1 {
			return u, invalid("field %q is given %d times; give it at most once", k, len(f[k]))
		}
	}
	u.Data = f.Get("data")
	u.ID = f.Get("id")
	u.Type = f.Get("type")
	if f.Has("private") {
		switch strings.ToLower(f.Get("private")) {
		case "false", "off", "0":
		default:
			u.Private = true
		}
	}
	if s := f.Get("retry"); s != "" {
		ms, err := strconv.ParseUint(s, 10, 32)
		if err != nil || strings.TrimLeft(s, "0123456789") != "" {
			return u, invalid("retry must be a whole number of milliseconds, not %q", s)
		}
		u.Retry = time.Duration(ms) * time.Millisecond
	}
	return u, u.Validate()
}

// reserved reports whether t is in the hub's own namespace (subscription
// events), which publishers may not forge.
func reserved(t string) bool {
	if i := strings.Index(t, "://"); i >= 0 {
		rest := t[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			t = rest[j:]
		} else {
			return false
		}
	}
	return t == Path || strings.HasPrefix(t, Path+"/")
}

func reasonOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusForbidden:
		return "forbidden"
	}
	return "internal"
}
