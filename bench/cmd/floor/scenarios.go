package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

var fanoutMetrics = []metric{
	{"client.received", "messages received", 0},
	{"client.lost", "messages missing", 0},
	{"client.lat_p50_ms", "latency p50 (ms)", 3},
	{"client.lat_p90_ms", "latency p90 (ms)", 3},
	{"client.lat_p99_ms", "latency p99 (ms)", 3},
	{"client.lat_p999_ms", "latency p99.9 (ms)", 3},
	{"client.lat_max_ms", "latency max (ms)", 3},
	{"client.sched_p50_ms", "latency from scheduled publication, p50 (ms)", 3},
	{"client.sched_p99_ms", "latency from scheduled publication, p99 (ms)", 3},
	{"client.sched_max_ms", "latency from scheduled publication, max (ms)", 3},
	{"server.events_per_s", "events/s achieved", 1},
	{"server.span_p50_ms", "server: publish → last write done, p50 (ms)", 3},
	{"server.span_p99_ms", "server: publish → last write done, p99 (ms)", 3},
	{"server.lag_p99_ms", "server: publication started late, p99 (ms)", 3},
	{"server.lag_max_ms", "server: publication started late, max (ms)", 3},
	{"server.cpu_s", "server CPU (s)", 3},
	{"server.cpu_us_per_write", "server CPU-µs per write", 2},
	{"server.wall_us_per_write", "server wall-µs per write (span p50 ÷ sockets per writer)", 2},
	{"server.sys_pct", "server CPU in the kernel (%)", 1},
	{"client.cpu_s", "client CPU (s)", 3},
	{"client.cpu_us_per_msg", "client CPU-µs per message", 2},
	{"client.sys_pct", "client CPU in the kernel (%)", 1},
	{"cpu_share_pct", "server+client CPU ÷ (wall × ncpu) (%)", 1},
	{"others_s", "other processes' CPU in the window (s)", 2},
	{"steal_s", "CPU stolen by the hypervisor in the window (s)", 2},
}

var reqrespMetrics = []metric{
	{"client.acked", "requests acknowledged", 0},
	{"client.delivered", "deliveries received", 0},
	{"client.deliveries_per_s", "deliveries/s (= requests/s × -batch)", 0},
	{"client.rtt_p50_us", "request round trip p50 (µs)", 1},
	{"client.rtt_p99_us", "request round trip p99 (µs)", 1},
	{"server.cpu_s", "server CPU (s)", 3},
	{"server.cpu_us_per_req", "server CPU-µs per request", 2},
	{"server.cpu_us_per_delivery", "server CPU-µs per delivery", 2},
	{"server.sys_pct", "server CPU in the kernel (%)", 1},
	{"client.cpu_s", "client CPU (s)", 3},
	{"client.cpu_us_per_req", "client CPU-µs per request", 2},
	{"client.sys_pct", "client CPU in the kernel (%)", 1},
	{"total_us_per_req", "server+client CPU-µs per request", 2},
	{"ceiling_per_s", "CPU-bound ceiling: ncpu × 10⁶ ÷ that (req/s)", 0},
	{"cpu_share_pct", "server+client CPU ÷ (wall × ncpu) (%)", 1},
	{"others_s", "other processes' CPU in the window (s)", 2},
	{"steal_s", "CPU stolen by the hypervisor in the window (s)", 2},
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// addShares adds the rows that need both processes' numbers.
func addShares(r result, wall float64, mw machineWindow) {
	busy, steal := mw.end()
	ours := r["server.cpu_s"] + r["client.cpu_s"]
	r["cpu_share_pct"] = 100 * ours / (wall * float64(runtime.NumCPU()))
	r["others_s"] = max(busy-ours, 0)
	r["steal_s"] = steal
}

// Fanout.

type event struct {
	seq int
	msg []byte
}

// writeAll writes msg to every connection, one after the other.
func writeAll(conns []net.Conn, msg []byte) error {
	for _, c := range conns {
		if _, err := c.Write(msg); err != nil {
			return err
		}
	}
	return nil
}

func fanoutServer(c config) (result, error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	start := time.Now()
	hard := start.Add(c.hardLimit())
	p, err := startLoad(c, ln.Addr().String(), "")
	if err != nil {
		return nil, err
	}
	defer p.kill()
	conns, err := acceptN(ln, c.subs, start.Add(setupTimeout), hard)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)

	n := c.events()
	pubAt := make([]int64, n) // send time of each event (Unix ns)
	lag := make([]int64, n)   // how late each event started (ns)
	ends := make([][]int64, c.writers)
	for w := range ends {
		ends[w] = make([]int64, n) // when writer w had written event e (Unix ns)
	}
	// publish waits for event e's turn and returns its message: sequence
	// number, send time and scheduled time (Unix ns), then filler.
	publish := func(first time.Time, e int) []byte {
		sched := first.Add(time.Duration(int64(e) * int64(time.Second) / int64(c.rate)))
		if d := time.Until(sched); d > 0 {
			time.Sleep(d)
		}
		now := time.Now()
		lag[e] = now.Sub(sched).Nanoseconds()
		pubAt[e] = now.UnixNano()
		m := bytes.Repeat([]byte{'x'}, c.size)
		binary.LittleEndian.PutUint64(m[0:], uint64(e))
		binary.LittleEndian.PutUint64(m[8:], uint64(pubAt[e]))
		binary.LittleEndian.PutUint64(m[16:], uint64(sched.UnixNano()))
		return m
	}

	time.Sleep(c.warmup) // let the load side settle after connecting
	cpu0, mw, t0 := cpuSeconds(), startMachineWindow(), time.Now()
	var werr error
	if c.writers == 1 {
		// The plain loop: the publishing goroutine writes to every socket.
		for e := range n {
			if werr = writeAll(conns, publish(t0, e)); werr != nil {
				break
			}
			ends[0][e] = time.Now().UnixNano()
		}
	} else {
		// The publishing goroutine hands each event to -writers goroutines,
		// each writing to its share of the sockets.
		var wg sync.WaitGroup
		chans := make([]chan event, c.writers)
		errs := make([]error, c.writers)
		for w := range c.writers {
			chans[w] = make(chan event, min(n, 4096))
			shard := conns[w*len(conns)/c.writers : (w+1)*len(conns)/c.writers]
			wg.Go(func() {
				for ev := range chans[w] {
					if errs[w] != nil {
						continue // drain
					}
					if errs[w] = writeAll(shard, ev.msg); errs[w] == nil {
						ends[w][ev.seq] = time.Now().UnixNano()
					}
				}
			})
		}
		for e := range n {
			ev := event{e, publish(t0, e)}
			for _, ch := range chans {
				ch <- ev
			}
		}
		for _, ch := range chans {
			close(ch)
		}
		wg.Wait()
		werr = errors.Join(errs...)
	}
	cpu1, wall := cpuSeconds(), time.Since(t0).Seconds()
	if werr != nil {
		return nil, fmt.Errorf("writing: %w", werr)
	}
	p.expected.Store(true)
	closeAll(conns) // the load side exits on EOF
	r, err := p.wait(grace)
	if err != nil {
		return nil, err
	}

	spans := make([]int64, n)
	for e := range n {
		for w := range ends {
			spans[e] = max(spans[e], ends[w][e]-pubAt[e])
		}
	}
	slices.Sort(spans)
	slices.Sort(lag)
	writes := float64(n) * float64(c.subs)
	r["server.span_p50_ms"] = ms(percentile(spans, 0.50))
	r["server.span_p99_ms"] = ms(percentile(spans, 0.99))
	r["server.lag_p99_ms"] = ms(percentile(lag, 0.99))
	r["server.lag_max_ms"] = ms(percentile(lag, 1))
	if n > 1 {
		r["server.events_per_s"] = float64(n-1) / (float64(pubAt[n-1]-pubAt[0]) / 1e9)
	}
	cpu, sysPct := cpu1.since(cpu0)
	r["server.cpu_s"], r["server.sys_pct"] = cpu, sysPct
	r["server.cpu_us_per_write"] = cpu * 1e6 / writes
	r["server.wall_us_per_write"] = float64(percentile(spans, 0.50)) / 1e3 / (float64(c.subs) / float64(c.writers))
	r["client.lost"] = writes - r["client.received"]
	if r["client.received"] > 0 {
		r["client.cpu_us_per_msg"] = r["client.cpu_s"] * 1e6 / r["client.received"]
	}
	addShares(r, wall, mw)
	return r, nil
}

func fanoutLoad(c config, hard time.Time) (result, error) {
	conns, err := dialN(c.addr, c.subs, time.Now().Add(setupTimeout), hard)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	n := c.events()
	cpu0 := cpuSeconds()
	var lats, scheds [][]int64 // receive − send, receive − scheduled
	if c.reader == "epoll" {
		lats, scheds, err = epollRead(conns, n, c.size, hard)
	} else {
		lats, scheds, err = goroutineRead(conns, n, c.size)
	}
	cpu1 := cpuSeconds()
	if err != nil {
		return nil, err
	}
	// Stay until the server closes (it exits the run then): at most a few
	// reads per connection, bounded by the deadline.
	var b [64]byte
	for _, conn := range conns {
		for range 16 {
			if _, err := conn.Read(b[:]); err != nil {
				break
			}
		}
	}

	cpu, sysPct := cpu1.since(cpu0)
	var all, sched []int64
	for i := range lats {
		all = append(all, lats[i]...)
		sched = append(sched, scheds[i]...)
	}
	slices.Sort(all)
	slices.Sort(sched)
	return result{
		"client.received":     float64(len(all)),
		"client.cpu_s":        cpu,
		"client.sys_pct":      sysPct,
		"client.lat_p50_ms":   ms(percentile(all, 0.50)),
		"client.lat_p90_ms":   ms(percentile(all, 0.90)),
		"client.lat_p99_ms":   ms(percentile(all, 0.99)),
		"client.lat_p999_ms":  ms(percentile(all, 0.999)),
		"client.lat_max_ms":   ms(percentile(all, 1)),
		"client.sched_p50_ms": ms(percentile(sched, 0.50)),
		"client.sched_p99_ms": ms(percentile(sched, 0.99)),
		"client.sched_max_ms": ms(percentile(sched, 1)),
	}, nil
}

// goroutineRead reads fanout's messages with one goroutine per connection,
// each blocking in Read, as most Go clients do. See epollRead.
func goroutineRead(conns []net.Conn, n, size int) (lats, scheds [][]int64, err error) {
	lats, scheds = make([][]int64, len(conns)), make([][]int64, len(conns))
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Go(func() {
			br := bufio.NewReaderSize(conn, 4096)
			buf := make([]byte, size)
			l, ls := make([]int64, 0, n), make([]int64, 0, n)
			for len(l) < n {
				if _, err := io.ReadFull(br, buf); err != nil {
					errs[i] = err
					break
				}
				now := time.Now().UnixNano()
				if seq := int(binary.LittleEndian.Uint64(buf)); seq != len(l) {
					errs[i] = fmt.Errorf("connection %d: event %d where %d was due", i, seq, len(l))
					break
				}
				l = append(l, now-int64(binary.LittleEndian.Uint64(buf[8:])))
				ls = append(ls, now-int64(binary.LittleEndian.Uint64(buf[16:])))
			}
			lats[i], scheds[i] = l, ls
		})
	}
	wg.Wait()
	return lats, scheds, errors.Join(errs...)
}

// Request/response.

func reqrespServer(c config) (result, error) {
	lo := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	subLn, err := net.ListenTCP("tcp", lo)
	if err != nil {
		return nil, err
	}
	defer subLn.Close()
	pubLn, err := net.ListenTCP("tcp", lo)
	if err != nil {
		return nil, err
	}
	defer pubLn.Close()
	start := time.Now()
	hard := start.Add(c.hardLimit())
	p, err := startLoad(c, subLn.Addr().String(), pubLn.Addr().String())
	if err != nil {
		return nil, err
	}
	defer p.kill()
	subs, err := acceptN(subLn, c.subs, start.Add(setupTimeout), hard)
	if err != nil {
		return nil, err
	}
	defer closeAll(subs)
	pubs, err := acceptN(pubLn, c.publishers, start.Add(setupTimeout), hard)
	if err != nil {
		return nil, err
	}
	defer closeAll(pubs)

	var dl *durableLog
	if c.durable {
		if dl, err = openDurableLog(c.reqSize); err != nil {
			return nil, err
		}
		defer dl.close()
	}
	delivery := bytes.Repeat([]byte{'d'}, c.msgSize)
	resp := bytes.Repeat([]byte{'r'}, c.respSize)
	var next atomic.Uint64 // round-robin over the subscribers
	served := make([]int, len(pubs))
	errs := make([]error, len(pubs))
	var wg sync.WaitGroup
	cpu0, mw, t0 := cpuSeconds(), startMachineWindow(), time.Now()
	for i, pub := range pubs {
		wg.Go(func() {
			if _, errs[i] = pub.Write([]byte{'G'}); errs[i] != nil {
				return
			}
			req := make([]byte, c.reqSize)
			done := make(chan error, 1)
			// Until the load side closes (after -duration) or the deadline.
			for {
				if _, err := io.ReadFull(pub, req); err != nil {
					if err != io.EOF {
						errs[i] = err
					}
					return
				}
				if dl != nil {
					if errs[i] = dl.commit(done); errs[i] != nil {
						return
					}
				}
				first := next.Add(uint64(c.batch)) - uint64(c.batch)
				for k := range uint64(c.batch) {
					sub := subs[(first+k)%uint64(len(subs))]
					if _, errs[i] = sub.Write(delivery); errs[i] != nil {
						return
					}
				}
				if _, errs[i] = pub.Write(resp); errs[i] != nil {
					return
				}
				served[i]++
			}
		})
	}
	wg.Wait()
	cpu1, wall := cpuSeconds(), time.Since(t0).Seconds()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p.expected.Store(true)
	closeAll(subs) // the load side exits on EOF
	r, err := p.wait(grace)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, s := range served {
		total += s
	}
	if total == 0 {
		return nil, fmt.Errorf("no request served")
	}
	r["server.served"] = float64(total)
	cpu, sysPct := cpu1.since(cpu0)
	r["server.cpu_s"], r["server.sys_pct"] = cpu, sysPct
	r["server.cpu_us_per_req"] = cpu * 1e6 / float64(total)
	r["server.cpu_us_per_delivery"] = cpu * 1e6 / float64(total*c.batch)
	r["total_us_per_req"] = r["server.cpu_us_per_req"] + r["client.cpu_us_per_req"]
	r["ceiling_per_s"] = float64(runtime.NumCPU()) * 1e6 / r["total_us_per_req"]
	addShares(r, wall, mw)
	return r, nil
}

func reqrespLoad(c config, hard time.Time) (result, error) {
	setupBy := time.Now().Add(setupTimeout)
	subs, err := dialN(c.addr, c.subs, setupBy, hard)
	if err != nil {
		return nil, err
	}
	defer closeAll(subs)
	pubs, err := dialN(c.addr2, c.publishers, setupBy, hard)
	if err != nil {
		return nil, err
	}
	defer closeAll(pubs)

	// Subscribers: read deliveries until the server closes (or the deadline).
	var subWG sync.WaitGroup
	counts := make(chan int, len(subs))
	subErrs := make([]error, len(subs))
	var got atomic.Int64 // deliveries read so far
	for i, sub := range subs {
		subWG.Go(func() {
			br := bufio.NewReaderSize(sub, 4096)
			buf := make([]byte, c.msgSize)
			k := 0
			for {
				if _, err := io.ReadFull(br, buf); err != nil {
					if err != io.EOF {
						subErrs[i] = err
					}
					break
				}
				k++
				got.Add(1)
			}
			counts <- k
		})
	}

	type pubResult struct {
		start, stop time.Time
		rtts        []int64
		err         error
	}
	prs := make([]pubResult, len(pubs))
	var wg sync.WaitGroup
	cpu0 := cpuSeconds()
	for i, pub := range pubs {
		wg.Go(func() {
			pr := &prs[i]
			var g [1]byte
			if _, pr.err = io.ReadFull(pub, g[:]); pr.err != nil {
				return
			}
			req := bytes.Repeat([]byte{'q'}, c.reqSize)
			resp := make([]byte, c.respSize)
			pr.start = time.Now()
			end := pr.start.Add(c.duration)
			pr.rtts = make([]int64, 0, 1<<16)
			for t := pr.start; t.Before(end); {
				if _, pr.err = pub.Write(req); pr.err != nil {
					return
				}
				if _, pr.err = io.ReadFull(pub, resp); pr.err != nil {
					return
				}
				now := time.Now()
				pr.rtts = append(pr.rtts, now.Sub(t).Nanoseconds())
				t = now
			}
			pr.stop = time.Now()
		})
	}
	wg.Wait()
	var rtts []int64
	var first, last time.Time
	for i, pr := range prs {
		if pr.err != nil {
			return nil, fmt.Errorf("publisher %d: %w", i, pr.err)
		}
		rtts = append(rtts, pr.rtts...)
		if i == 0 || pr.start.Before(first) {
			first = pr.start
		}
		if pr.stop.After(last) {
			last = pr.stop
		}
	}
	acked := len(rtts)
	// Every delivery was written before its response: wait until they have
	// all been read (at most 10 s).
	for range 10_000 {
		if got.Load() >= int64(acked*c.batch) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cpu1 := cpuSeconds()
	closeAll(pubs) // the server ends the run on EOF and closes the subscribers
	subWG.Wait()
	close(counts)
	total := 0
	for k := range counts {
		total += k
	}
	if err := errors.Join(subErrs...); err != nil {
		return nil, err
	}
	cpu, sysPct := cpu1.since(cpu0)
	slices.Sort(rtts)
	window := last.Sub(first).Seconds()
	return result{
		"client.acked":            float64(acked),
		"client.delivered":        float64(total),
		"client.window_s":         window,
		"client.deliveries_per_s": float64(total) / window,
		"client.rtt_p50_us":       float64(percentile(rtts, 0.50)) / 1e3,
		"client.rtt_p99_us":       float64(percentile(rtts, 0.99)) / 1e3,
		"client.cpu_s":            cpu,
		"client.sys_pct":          sysPct,
		"client.cpu_us_per_req":   cpu * 1e6 / float64(max(acked, 1)),
	}, nil
}
