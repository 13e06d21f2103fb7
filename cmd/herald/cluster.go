package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store/nats"
	"github.com/herald-sse/herald/store/redis"
	goredis "github.com/redis/go-redis/v9"
)

// clusterOpenTimeout bounds connecting to the engine at start.
const clusterOpenTimeout = 15 * time.Second

// openCluster opens the cluster store u names: redis:// or rediss:// (one
// Redis stream) or nats:// (one JetStream stream). Every node started with
// the same URL shares one history and one live tail.
func openCluster(u *url.URL, r herald.Retention, log *slog.Logger) (herald.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpenTimeout)
	defer cancel()
	var (
		s   herald.Store
		err error
	)
	switch u.Scheme {
	case "redis", "rediss":
		goredis.SetLogger(redisLogger{log})
		s, err = redis.Open(ctx, u.String(), redis.Options{Retention: r, Logger: log})
	case "nats":
		s, err = nats.Open(ctx, u.String(), nats.Options{Retention: r, Logger: log})
	default:
		return nil, usageError{fmt.Errorf("--store %s: not a cluster store (use redis://, rediss:// or nats://)", u.Redacted())}
	}
	switch {
	case errors.Is(err, herald.ErrInvalid):
		return nil, usageError{fmt.Errorf("--store %s: %w", u.Redacted(), err)}
	case err != nil:
		return nil, fmt.Errorf("open the cluster store %s: %w", u.Redacted(), err)
	}
	return s, nil
}

// redisLogger sends go-redis's own messages (pool dial failures, ...) to
// the hub's log at debug level: the store logs outages itself.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
