package web

import (
	"encoding/json"
	"net/http"
	"time"
)

// Stats is the body of GET /demo/stats: the hub's figures now.
type Stats struct {
	// Subscribers is the number of live streams on the hub (every topic).
	Subscribers int `json:"subscribers"`
	// DemoSubscribers is the number of open demo streams (/demo/stream).
	DemoSubscribers int64 `json:"demoSubscribers"`
	// EventsPerSecond is the number of updates the hub's store accepted in
	// the last whole second (every topic, including the demo's own).
	EventsPerSecond uint64 `json:"eventsPerSecond"`
	// Events is the number of updates accepted since the demo started.
	Events uint64 `json:"events"`
	// Publish reports whether the demo's send path is on.
	Publish bool `json:"publish"`
	// Time is the server's clock.
	Time time.Time `json:"time"`
}

// Stats returns the hub's figures now.
func (d *Demo) Stats() Stats {
	return Stats{
		Subscribers:     d.cfg.Hub.Subscribers(),
		DemoSubscribers: d.streams.Load(),
		EventsPerSecond: d.rate.Load(),
		Events:          d.events.Load(),
		Publish:         d.cfg.AllowPublish,
		Time:            time.Now().UTC(),
	}
}

func (d *Demo) serveStats(w http.ResponseWriter, r *http.Request) {
	if d.cors(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "read the stats with GET")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(d.Stats())
}
