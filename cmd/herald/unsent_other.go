//go:build !linux

package main

import "net"

// limitUnsent is a no-op where TCP_NOTSENT_LOWAT is not set (it is on Linux).
func limitUnsent(net.Conn, int) error { return nil }
