package eventsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// checkRequest reports, wrapping ErrInvalidRequest, why req can never be
// sent: retrying such a request would be futile.
func checkRequest(req *http.Request) error {
	switch {
	case req == nil:
		return fmt.Errorf("%w: nil request", ErrInvalidRequest)
	case req.URL == nil:
		return fmt.Errorf("%w: nil URL", ErrInvalidRequest)
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return fmt.Errorf("%w: URL scheme %q is not http or https", ErrInvalidRequest, req.URL.Scheme)
	case req.URL.Host == "":
		return fmt.Errorf("%w: URL %q has no host", ErrInvalidRequest, req.URL.Redacted())
	case req.Body != nil && req.Body != http.NoBody && req.GetBody == nil:
		return fmt.Errorf("%w: the body cannot be sent again on reconnection: set GetBody (http.NewRequest does for bytes and strings readers)", ErrInvalidRequest)
	}
	for name, values := range req.Header {
		if !validHeaderName(name) {
			return fmt.Errorf("%w: invalid header name %q", ErrInvalidRequest, name)
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				return fmt.Errorf("%w: invalid value for header %s", ErrInvalidRequest, name)
			}
		}
	}
	return nil
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v holds no control character but tab.
func validHeaderValue(v string) bool {
	for _, c := range []byte(v) {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// newAttempt returns the request for one connection attempt: a clone of base
// bound to ctx, with a fresh body, the EventSource headers and lastID.
//
// The headers are a browser's: the HTML standard's EventSource sends
// "Accept: text/event-stream" with the cache mode "no-store", which the
// Fetch standard turns into "Cache-Control: no-cache" and "Pragma:
// no-cache", each only if the request does not set it.
func newAttempt(ctx context.Context, base *http.Request, lastID string) (*http.Request, error) {
	req := base.Clone(ctx)
	if base.GetBody != nil {
		body, err := base.GetBody()
		if err != nil {
			return nil, fmt.Errorf("eventsource: request body: %w", err)
		}
		req.Body = body
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/event-stream")
	}
	for _, name := range []string{"Cache-Control", "Pragma"} {
		if len(req.Header.Values(name)) == 0 {
			req.Header.Set(name, "no-cache")
		}
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	} else {
		req.Header.Del("Last-Event-ID")
	}
	return req, nil
}

// checkResponse returns the error that ends the sequence when resp does not
// open a stream: ErrNoContent for 204, a *StatusError for any other status
// but 200 (without its Body, see errorBody), a *ContentTypeError for a media
// type other than text/event-stream. It reads nothing of the body.
func checkResponse(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNoContent:
		return ErrNoContent
	default:
		return &StatusError{Code: resp.StatusCode, Status: statusText(resp), Header: resp.Header}
	}
	ct := resp.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if (err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter)) || mt != "text/event-stream" {
		return &ContentTypeError{ContentType: ct}
	}
	return nil
}

// errorBody returns the start of a refused response's body, at most
// maxErrorBody bytes, for error messages: only when the response declares
// its length, so that a body that never ends (a stream answered with the
// wrong status) is never read. abort, called if the bytes take longer than
// maxErrorBodyWait to come, must make the body's Read return.
func errorBody(resp *http.Response, abort func()) []byte {
	if resp.ContentLength <= 0 {
		return nil
	}
	t := time.AfterFunc(maxErrorBodyWait, abort)
	defer t.Stop()
	start, _ := io.ReadAll(io.LimitReader(resp.Body, min(resp.ContentLength, maxErrorBody)))
	return start
}

// retryAfter returns the wait a response's Retry-After header asks for, in
// seconds or as an HTTP date, or 0 if it has none, is invalid or is past.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		return time.Duration(min(secs, uint64(math.MaxInt64/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// statusText returns resp's status as "401 Unauthorized".
func statusText(resp *http.Response) string {
	if resp.Status != "" {
		return resp.Status
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// futile reports whether an error from sending a request would recur on
// every attempt, so that reconnecting is futile: a certificate the client
// does not trust. Every other network error is worth a reconnection.
func futile(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr)
}
