package alerts

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Path is where the handler is mounted on the control socket.
const Path = "/v1/alerts"

// Defaults of the handler's limit parameter.
const (
	defaultListLimit   = 100
	defaultFollowLimit = 10
	followBuffer       = 256
)

// ListResponse is GET /v1/alerts.
type ListResponse struct {
	// Alerts are the latest alerts, oldest first.
	Alerts []Alert `json:"alerts"`
	// Stats count what the pipeline did since the daemon started.
	Stats Stats `json:"stats"`
}

// ErrorResponse is the body of an error, as the control API answers them.
type ErrorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Authorizer decides whether a request may read alerts: nil allows it.
type Authorizer func(*http.Request) error

// Handler serves the alerts API for `interlock alerts`:
//
//	GET /v1/alerts?limit=N            the latest N alerts (default 100), JSON ListResponse
//	GET /v1/alerts?follow=1&limit=N   the latest N (default 10), then every new alert,
//	                                  as newline-delimited JSON Alerts until the client goes
//
// authorize runs first; an error answers 403. A follower that falls behind
// is disconnected (it reconnects and misses nothing that Recent still holds).
func (p *Pipeline) Handler(authorize Authorizer) http.Handler {
	var followers atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		if authorize == nil {
			writeError(w, http.StatusForbidden, "forbidden", "alerts: no authorization configured")
			return
		}
		if err := authorize(r); err != nil {
			writeError(w, http.StatusForbidden, "forbidden", err.Error())
			return
		}
		q := r.URL.Query()
		follow := q.Get("follow") == "1" || q.Get("follow") == "true"
		limit := defaultListLimit
		if follow {
			limit = defaultFollowLimit
		}
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit %q: want a number >= 0", s))
				return
			}
			limit = min(n, p.cfg.Recent)
		}
		if !follow {
			writeJSON(w, http.StatusOK, ListResponse{Alerts: p.Recent(limit), Stats: p.Stats()})
			return
		}
		if followers.Add(1) > int64(p.cfg.MaxFollowers) {
			followers.Add(-1)
			writeError(w, http.StatusServiceUnavailable, "too_many_followers", "too many alert streams open")
			return
		}
		defer followers.Add(-1)
		p.follow(w, r, limit)
	})
}

// follow streams the latest limit alerts and then new ones.
func (p *Pipeline) follow(w http.ResponseWriter, r *http.Request, limit int) {
	rc := http.NewResponseController(w)
	// A stream outlives the server's write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	ch, cancel := p.Subscribe(followBuffer)
	defer cancel()
	backlog := p.Recent(limit)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	var last uint64
	for _, a := range backlog {
		if enc.Encode(a) != nil {
			return
		}
		last = a.Seq
	}
	if rc.Flush() != nil {
		return
	}
	for {
		select {
		case a, ok := <-ch:
			if !ok {
				return // fell behind, or the pipeline closed
			}
			if a.Seq <= last {
				continue // already sent with the backlog
			}
			if enc.Encode(a) != nil || rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg, Code: code})
}
