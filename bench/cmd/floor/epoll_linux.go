package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
)

const epollAvailable = true

// epollRead reads fanout's messages from conns without a goroutine per
// connection: loops (one per GOMAXPROCS) each wait on their own epoll set
// for their share of the sockets and read every ready one with read(2),
// as an event-loop client does. It returns, per connection, receive time
// minus send time and minus scheduled time of each message, once n
// messages have arrived on each.
func epollRead(conns []net.Conn, n, size int, hard time.Time) (lats, scheds [][]int64, err error) {
	fds := make([]int, len(conns))
	for i, c := range conns {
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			return nil, nil, err
		}
		if err := rc.Control(func(fd uintptr) { fds[i] = int(fd) }); err != nil {
			return nil, nil, err
		}
	}
	lats, scheds = make([][]int64, len(conns)), make([][]int64, len(conns))
	loops := runtime.GOMAXPROCS(0)
	errs := make([]error, loops)
	var wg sync.WaitGroup
	for k := range loops {
		wg.Go(func() {
			var mine []int
			for i := k; i < len(conns); i += loops {
				mine = append(mine, i)
			}
			errs[k] = epollLoop(fds, mine, n, size, hard, lats, scheds)
		})
	}
	wg.Wait()
	return lats, scheds, errors.Join(errs...)
}

func epollLoop(fds, mine []int, n, size int, hard time.Time, lats, scheds [][]int64) error {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer syscall.Close(ep)
	pend := make(map[int][]byte, len(mine)) // partial message per connection
	for _, i := range mine {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fds[i], &ev); err != nil {
			return err
		}
		lats[i], scheds[i] = make([]int64, 0, n), make([]int64, 0, n)
	}
	left := len(mine)
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	for left > 0 {
		if time.Now().After(hard) {
			return fmt.Errorf("%d connections still short of %d messages at the deadline", left, n)
		}
		k, err := syscall.EpollWait(ep, events, 100)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return err
		}
		for _, ev := range events[:k] {
			i := int(ev.Fd)
			r, err := syscall.Read(fds[i], buf)
			if err == syscall.EAGAIN || err == syscall.EINTR {
				continue
			}
			if err != nil || r == 0 {
				return fmt.Errorf("connection %d: read: %v (after %d messages)", i, err, len(lats[i]))
			}
			now := time.Now().UnixNano()
			b := buf[:r]
			if p := pend[i]; len(p) > 0 {
				b = append(p, b...)
			}
			for len(b) >= size {
				msg := b[:size]
				b = b[size:]
				if seq := int(binary.LittleEndian.Uint64(msg)); seq != len(lats[i]) {
					return fmt.Errorf("connection %d: event %d where %d was due", i, seq, len(lats[i]))
				}
				lats[i] = append(lats[i], now-int64(binary.LittleEndian.Uint64(msg[8:])))
				scheds[i] = append(scheds[i], now-int64(binary.LittleEndian.Uint64(msg[16:])))
				if len(lats[i]) == n {
					left--
					_ = syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, fds[i], nil)
				}
			}
			pend[i] = append(pend[i][:0], b...)
		}
	}
	return nil
}
