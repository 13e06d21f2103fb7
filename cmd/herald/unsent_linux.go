package main

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// limitUnsent bounds the bytes the kernel keeps unsent for c to n
// (TCP_NOTSENT_LOWAT): once that much waits, writes wait too, so that a
// client that stops reading holds its backlog in the hub's queue, counted by
// --queue-bytes and --queued-bytes, rather than in a send buffer that may
// grow to tcp_wmem's maximum. Bytes in flight to the client are not
// affected, so a reading client's throughput is not either. n <= 0 or a
// connection that is not TCP: nothing is changed. It reports the error of
// setting the option.
func limitUnsent(c net.Conn, n int) error {
	tc, ok := c.(*net.TCPConn)
	if n <= 0 || !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
	}); err != nil {
		return err
	}
	return serr
}
