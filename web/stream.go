package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/topic"
)

// Limits on greetings, per client address and for everyone together: a
// greeting is a write to the store, so opening connections in a loop must
// not flood it. A client over the limit gets its stream without a greeting.
const (
	greetRate        = 1.0
	greetBurst       = 20
	globalGreetRate  = 50.0
	globalGreetBurst = 100
)

// welcomeTopic returns the private topic of one demo stream's greeting:
// <topic>/welcome/<id>.
func welcomeTopic(demoTopic, id string) string {
	return demoTopic + "/welcome/" + id
}

// serveStream subscribes the client to the demo topic and greets it.
func (d *Demo) serveStream(w http.ResponseWriter, r *http.Request) {
	if d.cors(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "subscribe to the demo stream with GET (an EventSource)")
		return
	}
	q := r.URL.Query()
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("lastEventID")
	}
	if len(last) > herald.MaxIDLength || strings.ContainsAny(last, "\r\n\x00") {
		httpError(w, http.StatusBadRequest, "bad Last-Event-ID: at most %d bytes, without CR, LF or NUL", herald.MaxIDLength)
		return
	}
	id := randomID()
	welcome := welcomeTopic(d.cfg.Topic, id)
	demoSel, err := topic.Compile(d.cfg.Topic)
	if err != nil { // New validated the topic
		httpError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	welcomeSel, err := topic.Compile(welcome)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	ip := clientKey(r)
	ctx := context.WithoutCancel(r.Context())
	d.cfg.Hub.ServeStream(w, r, hub.Subscription{
		ID:        "urn:herald:demo:" + id,
		Selectors: []*topic.Selector{demoSel, welcomeSel},
		// The stream may receive exactly one private update: its greeting.
		CanReceive:  func(topics []string) bool { return slices.Contains(topics, welcome) },
		Resume:      last != "",
		LastEventID: last,
		GapEvent:    true,
		LiveEvent:   truthy(q.Get("liveEvent")),
		OnOpen: func() {
			n := d.streams.Add(1)
			d.greet(ctx, ip, welcome, last, n)
		},
		OnClose: func(hub.CloseReason) { d.streams.Add(-1) },
	})
}

// greet publishes the welcome event of a stream that has just opened. It runs
// on the request's goroutine once the hub has registered the stream, so the
// greeting cannot be missed.
func (d *Demo) greet(ctx context.Context, ip, welcome, last string, n int64) {
	if ok, _ := d.greets.allow(ip, time.Now()); !ok {
		d.log.Debug("demo: greeting skipped: too many connections", "client", ip)
		return
	}
	others := "You are the only one here for now: open this page in another tab to see messages travel."
	if n > 1 {
		others = fmt.Sprintf("You are one of %s here.", people(n))
	}
	var data string
	if last == "" {
		data = fmt.Sprintf("Welcome! This page is subscribed to the topic %q with herald.js, one connection for all its tabs. %s "+
			"Send a message and everyone here receives it at once; the server also speaks every %s.",
			d.cfg.Topic, others, every(d.cfg.Interval))
	} else {
		data = fmt.Sprintf("Welcome back! You resumed after event %s: whatever was published meanwhile "+
			"came first, from history. %s here now.", last, capitalize(people(n)))
	}
	d.publish(ctx, herald.Update{Topics: []string{welcome}, Private: true, Type: "welcome", Data: data})
}

// every says how often something happens every d, in words.
func every(d time.Duration) string {
	switch {
	case d == time.Second:
		return "second"
	case d%time.Second == 0 && d < time.Minute:
		return fmt.Sprintf("%d seconds", d/time.Second)
	case d%time.Minute == 0 && d < time.Hour:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// randomID returns 16 random bytes in hex.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// truthy reads a boolean query parameter as the Mercure endpoint does.
func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "on", "yes":
		return true
	}
	return false
}
