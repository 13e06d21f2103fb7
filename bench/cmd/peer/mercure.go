package main

import (
	"context"
	"path/filepath"

	"github.com/dunglas/mercure"
)

// Mercure v0.24.2, embedded as a library (the issue asks for it; no Mercure
// code is copied into Herald).

func newMercureLocal(cfg config) (*impl, error) {
	return newMercure(cfg, mercure.NewLocalTransport(mercure.NewSubscriberList(mercure.DefaultSubscriberListCacheSize)))
}

func newMercureBolt(cfg config) (*impl, error) {
	t, err := mercure.NewBoltTransport(mercure.NewSubscriberList(mercure.DefaultSubscriberListCacheSize),
		discardLogger(), filepath.Join(cfg.dataDir, "mercure.db"), "", historySize, 0)
	if err != nil {
		return nil, err
	}
	return newMercure(cfg, t)
}

func newMercure(cfg config, t mercure.Transport) (*impl, error) {
	ctx, cancel := context.WithCancel(context.Background())
	h, err := mercure.NewHub(ctx,
		mercure.WithTransport(t),
		mercure.WithPublisherJWT([]byte(cfg.jwtKey), "HS256"),
		mercure.WithAnonymous(),
		mercure.WithLogger(discardLogger()),
	)
	if err != nil {
		cancel()
		return nil, err
	}
	return &impl{handler: h, close: func() {
		_ = h.Stop(context.Background())
		cancel()
	}}, nil
}
