//go:build !linux

package main

import "errors"

// epollSupported reports whether -receivers-io epoll works here.
const epollSupported = false

// epollReaders is Linux-only; config validation refuses the mode elsewhere.
type epollReaders struct{}

func startEpollReaders(shared *fanoutShared, n, workers int) (*epollReaders, error) {
	return nil, errors.New("-receivers-io epoll needs Linux")
}

func (e *epollReaders) adopt(i int, c *Client, rv *receiver) {}

func (e *epollReaders) stop() int { return 0 }
