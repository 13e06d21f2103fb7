package mercure

import (
	"container/heap"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// pageParams reads a listing's ?limit= (at most, and by default,
// Config.SubscriptionsPageSize) and ?after= (the cursor: the last id of the
// page before). On a bad query it answers 400 and reports false.
func (h *Handler) pageParams(w http.ResponseWriter, r *http.Request) (limit int, after string, ok bool) {
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%s", reason(err))
		return 0, "", false
	}
	limit = h.cfg.SubscriptionsPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			httpError(w, http.StatusBadRequest, "limit must be a whole number of subscriptions, at least 1, not %q", v)
			return 0, "", false
		}
		limit = min(n, limit)
	}
	return limit, q.Get("after"), true
}

// beginListing takes the one listing slot (each listing walks every
// subscriber), waiting at most a second for it; past that it answers 503
// with Retry-After. It reports false when the request is answered or gone;
// otherwise the caller must call release.
func (h *Handler) beginListing(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case h.listing <- struct{}{}:
		return func() { <-h.listing }, true
	case <-t.C:
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "the subscriptions API is busy listing subscriptions; try again shortly")
		return nil, false
	case <-r.Context().Done():
		return nil, false
	}
}

// page collects one page of a listing ordered by id: of the items offered,
// it keeps the limit+1 with the smallest ids above the cursor, that is the
// page and whether there is another, in memory bounded by the limit however
// many are offered.
type page[T any] struct {
	limit int
	after string
	top   idHeap[T]
}

// wants reports whether an item with this id could be on the page, so that
// callers build only those.
func (p *page[T]) wants(id string) bool {
	return id > p.after && (p.top.Len() <= p.limit || id < p.top[0].id)
}

// add offers an item; p.wants(id) must be true.
func (p *page[T]) add(id string, v T) {
	heap.Push(&p.top, keyed[T]{id, v})
	if p.top.Len() > p.limit+1 {
		heap.Pop(&p.top)
	}
}

// items returns the page in id order (never nil), and whether more follow it.
func (p *page[T]) items() (list []T, more bool) {
	sort.Slice(p.top, func(i, j int) bool { return p.top[i].id < p.top[j].id })
	more = len(p.top) > p.limit
	if more {
		p.top = p.top[:p.limit]
	}
	list = make([]T, len(p.top))
	for i, k := range p.top {
		list[i] = k.v
	}
	return list, more
}

type keyed[T any] struct {
	id string
	v  T
}

// idHeap is a max-heap by id: popping drops the largest.
type idHeap[T any] []keyed[T]

func (p idHeap[T]) Len() int           { return len(p) }
func (p idHeap[T]) Less(i, j int) bool { return p[i].id > p[j].id }
func (p idHeap[T]) Swap(i, j int)      { p[i], p[j] = p[j], p[i] }
func (p *idHeap[T]) Push(x any)        { *p = append(*p, x.(keyed[T])) }
func (p *idHeap[T]) Pop() any {
	old := *p
	x := old[len(old)-1]
	*p = old[:len(old)-1]
	return x
}
