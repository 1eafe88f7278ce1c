package control

import (
	"fmt"
	"net/http"
	"strings"
)

// probeMethods are tried to tell "unknown path" from "wrong method".
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// ServeHTTP bounds the body, answers unknown routes and methods with JSON
// errors and dispatches to the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := PeerOf(r); !ok {
		WriteError(w, http.StatusForbidden, CodeForbidden, "caller unknown: requests must come through the control socket")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if _, pattern := s.mux.Handler(r); pattern == "" {
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			WriteError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed,
				fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		WriteError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("unknown endpoint %s %s", r.Method, r.URL.Path))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// allowed lists the methods that have a route for r's path.
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	probe := new(http.Request)
	for _, m := range probeMethods {
		*probe = *r
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			out = append(out, m)
		}
	}
	return out
}
