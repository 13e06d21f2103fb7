package main

import (
	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/memory"
)

func openBolt(dir string, r herald.Retention) (herald.Store, error) {
	return bolt.Open(dir, bolt.Options{Retention: r})
}

func openMemory(r herald.Retention) (herald.Store, error) {
	return memory.New(memory.Options{Retention: r}), nil
}
