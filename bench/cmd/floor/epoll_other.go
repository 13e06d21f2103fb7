//go:build !linux

package main

import (
	"errors"
	"net"
	"time"
)

const epollAvailable = false

func epollRead([]net.Conn, int, int, time.Time) (lats, scheds [][]int64, err error) {
	return nil, nil, errors.New("-reader epoll needs Linux")
}
