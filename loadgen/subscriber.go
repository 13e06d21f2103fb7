package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// subscriber is one stream: a socket, its reader, and what it has seen of
// each publisher that sends to its topic.
type subscriber struct {
	g     *localGroup
	idx   int // global index: it subscribes to topic idx % Topics
	topic int
	hist  *Histogram

	// last[j] is the highest sequence number received from the j-th
	// publisher of the topic (see streams). Written by the subscriber's
	// goroutine only; read by the drain.
	last []atomic.Uint64

	// Owned by the subscriber's goroutine; read once it has ended.
	gaps, ooo, foreign, received uint64
	now                          int64
	recording                    bool
	n                            uint64

	mu        sync.Mutex
	conn      net.Conn
	reconnect atomic.Bool // the next stream end is a requested drop: reconnect
	rd        *streamReader
}

// localGroup is a set of subscribers run by this process.
type localGroup struct {
	cfg     groupConfig
	shards  []Histogram
	subs    []*subscriber
	dialers []*net.Dialer
	sem     chan struct{}

	deliveries  atomic.Uint64
	connected   atomic.Int64
	connErrors  atomic.Int64
	disconnects atomic.Int64 // streams ended by the hub or the network
	reconnects  atomic.Int64
	recording   atomic.Bool
	closing     atomic.Bool
	firstErr    atomic.Pointer[string]

	stormMu     sync.Mutex
	stormStart  time.Time
	stormWant   atomic.Int64 // subscribers still to resume
	stormLatest atomic.Int64 // unix nanos of the last resume
	stormDone   chan struct{}

	wg sync.WaitGroup
}

// groupConfig is what a group of subscribers needs to know; it travels to
// worker processes as JSON.
type groupConfig struct {
	Hub                string   `json:"hub"`
	First              int      `json:"first"` // global index of the first subscriber
	Count              int      `json:"count"`
	Topics             int      `json:"topics"`
	Publishers         int      `json:"publishers"`
	TopicPrefix        string   `json:"topic_prefix"`
	Token              string   `json:"token,omitempty"`
	Draft08            bool     `json:"draft08,omitempty"`
	SourceAddrs        []string `json:"source_addrs,omitempty"`
	ConnectConcurrency int      `json:"connect_concurrency"`
	BufferSize         int      `json:"buffer_size"`
	Insecure           bool     `json:"insecure,omitempty"`
	MaxReconnects      int      `json:"max_reconnects"`
}

const histShards = 32

func newLocalGroup(cfg groupConfig) (*localGroup, error) {
	if _, err := parseTarget(cfg.Hub, cfg.Insecure); err != nil {
		return nil, err
	}
	g := &localGroup{
		cfg:    cfg,
		shards: make([]Histogram, histShards),
		sem:    make(chan struct{}, max(cfg.ConnectConcurrency, 1)),
	}
	if len(cfg.SourceAddrs) == 0 {
		g.dialers = []*net.Dialer{{Timeout: 10 * time.Second}}
	}
	for _, a := range cfg.SourceAddrs {
		ip := net.ParseIP(a)
		if ip == nil {
			return nil, fmt.Errorf("loadgen: source address %q is not an IP address", a)
		}
		g.dialers = append(g.dialers, &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}})
	}
	slots := func(t int) int { return len(streamsOf(t, cfg.Topics, cfg.Publishers)) }
	g.subs = make([]*subscriber, cfg.Count)
	for i := range g.subs {
		idx := cfg.First + i
		t := idx % max(cfg.Topics, 1)
		g.subs[i] = &subscriber{
			g:     g,
			idx:   idx,
			topic: t,
			hist:  &g.shards[i%histShards],
			last:  make([]atomic.Uint64, slots(t)),
		}
	}
	return g, nil
}

// streamsOf returns the publishers that send to topic t, in slot order:
// with P <= M publishers, topic t has one, t % P; with more publishers than
// topics, topic t has every p with p % M == t.
func streamsOf(t, topics, publishers int) []int {
	if publishers <= 0 || topics <= 0 {
		return nil
	}
	if publishers <= topics {
		return []int{t % publishers}
	}
	var out []int
	for p := t; p < publishers; p += topics {
		out = append(out, p)
	}
	return out
}

// topicsOf returns the topics publisher p sends to, in the order it cycles
// through them.
func topicsOf(p, topics, publishers int) []int {
	if publishers <= topics {
		var out []int
		for t := p; t < topics; t += publishers {
			out = append(out, t)
		}
		return out
	}
	return []int{p % topics}
}

// slotOf returns the slot of publisher p among the publishers of topic t.
func slotOf(p, t, topics, publishers int) (int, bool) {
	if p < 0 || p >= publishers {
		return 0, false
	}
	if publishers <= topics {
		return 0, p == t%publishers
	}
	return p / topics, p%topics == t
}

func (g *localGroup) noteErr(err error) {
	s := err.Error()
	g.firstErr.CompareAndSwap(nil, &s)
}

// connect opens every stream, at most ConnectConcurrency at a time, and
// returns once each has succeeded or failed.
func (g *localGroup) connect(ctx context.Context) connectStats {
	start := time.Now()
	var pending sync.WaitGroup
	for _, s := range g.subs {
		pending.Add(1)
		g.wg.Add(1)
		go s.run(ctx, &pending)
	}
	pending.Wait()
	return g.connectStats(time.Since(start))
}

func (g *localGroup) connectStats(d time.Duration) connectStats {
	cs := connectStats{
		Connected: int(g.connected.Load()),
		Errors:    int(g.connErrors.Load()),
		Duration:  d,
	}
	if p := g.firstErr.Load(); p != nil {
		cs.FirstError = *p
	}
	return cs
}

// run connects, then reads until the stream ends for good.
func (s *subscriber) run(ctx context.Context, pending *sync.WaitGroup) {
	g := s.g
	defer g.wg.Done()
	g.sem <- struct{}{}
	err := s.dial(ctx, "")
	<-g.sem
	if err != nil {
		g.connErrors.Add(1)
		g.noteErr(err)
		pending.Done()
		return
	}
	g.connected.Add(1)
	defer g.connected.Add(-1)
	pending.Done() // after counting, so that connect's stats include it
	onEvent := s.onEvent
	attempts := 0
	for {
		err := s.readStream(onEvent)
		if g.closing.Load() || ctx.Err() != nil {
			return
		}
		storm := s.reconnect.Swap(false)
		if !storm {
			g.disconnects.Add(1)
			g.noteErr(fmt.Errorf("stream ended: %w", err)) // readStream always ends with an error
		}
		// Reconnect with Last-Event-ID, as an EventSource does: a storm
		// at once, other drops (and failed attempts) after a short pause.
		for tries := 0; ; tries++ {
			if !storm || tries > 0 {
				if attempts >= g.cfg.MaxReconnects {
					return
				}
				attempts++
				select {
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
					return
				}
			}
			err := s.dial(ctx, string(s.rd.lastID))
			if g.closing.Load() || ctx.Err() != nil {
				return
			}
			if err == nil {
				g.reconnects.Add(1)
				if storm {
					g.resumed()
				}
				break
			}
			g.connErrors.Add(1)
			g.noteErr(err)
		}
	}
}

// dial opens the stream, resuming after lastID when it is not empty.
func (s *subscriber) dial(ctx context.Context, lastID string) error {
	g := s.g
	tgt, _ := parseTarget(g.cfg.Hub, g.cfg.Insecure)
	d := g.dialers[s.idx%len(g.dialers)]
	conn, err := tgt.dial(ctx, d)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("GET ")
	b.WriteString(tgt.path)
	if strings.Contains(tgt.path, "?") {
		b.WriteByte('&')
	} else {
		b.WriteByte('?')
	}
	if g.cfg.Draft08 {
		b.WriteString("match=")
	} else {
		b.WriteString("topic=")
	}
	b.WriteString(escapedTopic(g.cfg.TopicPrefix, s.topic))
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(tgt.host)
	b.WriteString("\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: herald-bench\r\n")
	if g.cfg.Token != "" {
		b.WriteString("Authorization: Bearer ")
		b.WriteString(g.cfg.Token)
		b.WriteString("\r\n")
	}
	if lastID != "" {
		b.WriteString("Last-Event-ID: ")
		b.WriteString(lastID)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte(b.String())); err != nil {
		abort(conn)
		return err
	}
	if s.rd == nil {
		s.rd = newStreamReader(conn, g.cfg.BufferSize, 4<<20)
	} else {
		s.rd.reset(conn)
	}
	resp, err := s.rd.readHead()
	if err != nil {
		abort(conn)
		return fmt.Errorf("reading the response: %w", err)
	}
	if resp.status != 200 {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		body := s.rd.errorBody()
		abort(conn)
		return fmt.Errorf("the hub answered %d: %.200s", resp.status, body)
	}
	// A Mercure hub says, in Last-Event-ID, the last event before the
	// subscription: resuming from it loses nothing even when the stream
	// ends before its first event.
	if len(s.rd.lastID) == 0 && resp.lastEventID != "" {
		s.rd.lastID = append(s.rd.lastID, resp.lastEventID...)
	}
	_ = conn.SetDeadline(time.Time{})
	s.mu.Lock()
	s.conn = conn
	closing := g.closing.Load()
	s.mu.Unlock()
	if closing {
		abort(conn)
		return errors.New("closing")
	}
	return nil
}

// abort closes conn without the TIME_WAIT state a normal close leaves on
// the client, so that repeated runs do not run out of ephemeral ports.
func abort(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// readStream reads events until the stream ends.
func (s *subscriber) readStream(onEvent func([]byte)) error {
	g := s.g
	for {
		s.rd.fill()
		// One clock reading per read: every event in it arrived together.
		s.recording = g.recording.Load()
		if s.recording {
			s.now = time.Now().UnixNano()
		}
		s.n = 0
		err := s.rd.process(onEvent)
		if s.n > 0 {
			g.deliveries.Add(s.n)
			s.received += s.n
		}
		if err != nil {
			s.mu.Lock()
			if s.conn != nil {
				abort(s.conn)
				s.conn = nil
			}
			s.mu.Unlock()
			return err
		}
	}
}

// onEvent accounts for one event. It runs on the subscriber's goroutine.
func (s *subscriber) onEvent(data []byte) {
	pub, seq, ts, ok := parsePayload(data)
	if !ok {
		s.foreign++
		return
	}
	slot, ok := slotOf(pub, s.topic, s.g.cfg.Topics, s.g.cfg.Publishers)
	if !ok || slot >= len(s.last) {
		s.foreign++
		return
	}
	last := s.last[slot].Load()
	switch {
	case seq == last+1:
	case seq > last+1:
		s.gaps += seq - last - 1
	default:
		s.ooo++
		return
	}
	s.last[slot].Store(seq)
	s.n++
	if s.recording {
		s.hist.Record(time.Duration(s.now - ts))
	}
}

func (g *localGroup) progress() progressCounts {
	return progressCounts{
		Deliveries:  g.deliveries.Load(),
		Connected:   int(g.connected.Load()),
		Errors:      int(g.connErrors.Load()),
		Disconnects: int(g.disconnects.Load()),
	}
}

// setRecording starts or stops recording latencies; it returns the
// deliveries so far.
func (g *localGroup) setRecording(on bool) uint64 {
	g.recording.Store(on)
	return g.deliveries.Load()
}

// storm drops every stream at once; each reconnects at once with
// Last-Event-ID. It returns when all have resumed, or after timeout.
func (g *localGroup) storm(ctx context.Context, timeout time.Duration) stormStats {
	g.stormMu.Lock()
	defer g.stormMu.Unlock()
	var live []*subscriber
	for _, s := range g.subs {
		s.mu.Lock()
		if s.conn != nil {
			live = append(live, s)
		}
		s.mu.Unlock()
	}
	g.stormDone = make(chan struct{})
	g.stormWant.Store(int64(len(live)))
	errsBefore := g.connErrors.Load()
	g.stormStart = time.Now()
	g.stormLatest.Store(g.stormStart.UnixNano())
	if len(live) == 0 {
		close(g.stormDone)
	}
	for _, s := range live {
		s.reconnect.Store(true)
		s.mu.Lock()
		if s.conn != nil {
			abort(s.conn)
			s.conn = nil
		}
		s.mu.Unlock()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-g.stormDone:
	case <-t.C:
	case <-ctx.Done():
	}
	left := g.stormWant.Load()
	return stormStats{
		Dropped:  len(live),
		Resumed:  len(live) - int(left),
		Duration: time.Duration(g.stormLatest.Load() - g.stormStart.UnixNano()),
		Errors:   int(g.connErrors.Load() - errsBefore),
	}
}

func (g *localGroup) resumed() {
	g.stormLatest.Store(time.Now().UnixNano())
	if g.stormWant.Add(-1) == 0 {
		close(g.stormDone)
	}
}

// drain waits until every subscriber has received the last event of each of
// its publishers (finals[t][slot]), or until timeout, and returns the
// accounting.
func (g *localGroup) drain(ctx context.Context, finals [][]uint64, timeout time.Duration) groupResult {
	deadline := time.Now().Add(timeout)
	complete := func() bool {
		for _, s := range g.subs {
			if s.topic >= len(finals) {
				continue
			}
			f := finals[s.topic]
			for j := range s.last {
				if j < len(f) && s.last[j].Load() < f[j] {
					return false
				}
			}
		}
		return true
	}
	for !complete() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	return g.result(finals)
}

// close ends every stream and waits for the subscribers' goroutines.
func (g *localGroup) close(timeout time.Duration) {
	g.closing.Store(true)
	for _, s := range g.subs {
		s.mu.Lock()
		if s.conn != nil {
			abort(s.conn)
			s.conn = nil
		}
		s.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}

// result adds up what the subscribers saw. The counters it reads are owned
// by the subscribers' goroutines, so it stops the streams first.
func (g *localGroup) result(finals [][]uint64) groupResult {
	g.close(10 * time.Second)
	var r groupResult
	for _, s := range g.subs {
		r.Received += s.received
		r.Lost += s.gaps
		r.OutOfOrder += s.ooo
		r.Foreign += s.foreign
		if s.topic < len(finals) {
			f := finals[s.topic]
			for j := range s.last {
				if j < len(f) {
					r.Expected += f[j]
					if l := s.last[j].Load(); l < f[j] {
						r.Lost += f[j] - l
					}
				}
			}
		}
	}
	var h Histogram
	for i := range g.shards {
		h.Merge(&g.shards[i])
	}
	r.Latency = h.export()
	r.Disconnects = int(g.disconnects.Load())
	r.Reconnects = int(g.reconnects.Load())
	r.Errors = int(g.connErrors.Load())
	if p := g.firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	return r
}
