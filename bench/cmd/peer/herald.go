package main

import (
	"context"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/mercure"
	"github.com/herald-sse/herald/store/bolt"
	"github.com/herald-sse/herald/store/memory"
)

// historySize is the history every implementation with one keeps, in events.
const historySize = 1_000_000

func newHeraldMemory(cfg config) (*impl, error) {
	return newHerald(cfg, memory.New(memory.Options{Retention: herald.Retention{MaxCount: historySize}}))
}

func newHeraldBolt(cfg config) (*impl, error) {
	s, err := bolt.Open(cfg.dataDir, bolt.Options{Retention: herald.Retention{MaxCount: historySize}, Logger: discardLogger()})
	if err != nil {
		return nil, err
	}
	return newHerald(cfg, s)
}

// newHerald wires Herald as `herald serve` does: hub, Mercure protocol
// handler, publisher JWTs.
func newHerald(cfg config, store herald.Store) (*impl, error) {
	v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{[]byte(cfg.jwtKey)}})
	if err != nil {
		return nil, err
	}
	h := hub.New(store, hub.Options{Logger: discardLogger()})
	mh, err := mercure.New(mercure.Config{Hub: h, Publishers: v, Logger: discardLogger()})
	if err != nil {
		return nil, err
	}
	return &impl{handler: mh, below: true, close: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Close(ctx)
		_ = store.Close()
	}}, nil
}
