package main

import (
	"log/slog"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/memory"
)

func openBolt(dir string, r herald.Retention, log *slog.Logger) (herald.Store, error) {
	return bolt.Open(dir, bolt.Options{Retention: r, Logger: log})
}

func openMemory(r herald.Retention) (herald.Store, error) {
	return memory.New(memory.Options{Retention: r}), nil
}
