package approval

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/interlock-dev/interlock/daemon/control"
)

// ListResponse is GET /v1/requests.
type ListResponse struct {
	Requests []*Request `json:"requests"`
}

// ApproveBody is POST /v1/requests/{id}/approve.
type ApproveBody struct {
	// Comment is optional and goes into the audit record.
	Comment string `json:"comment"`
}

// RejectBody is POST /v1/requests/{id}/reject.
type RejectBody struct {
	// Reason is required and goes into the audit record.
	Reason string `json:"reason"`
}

// Mux is where routes are mounted; *control.Server and *http.ServeMux
// implement it.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// authError is a failed authentication, with its HTTP status and code.
type authError struct {
	status int
	code   string
	msg    string
}

func (e *authError) Error() string { return e.msg }

// handlers serve the request routes for one transport; who names the
// caller.
type handlers struct {
	svc *Service
	log *slog.Logger
	who func(r *http.Request) (Viewer, *authError)
	// needIdentity is the error for deciding without an identity.
	needIdentity *authError
	// challenge, when set, is the WWW-Authenticate of 401 answers.
	challenge string
}

func (h *handlers) mount(m Mux) {
	m.Handle("GET /v1/requests", http.HandlerFunc(h.list))
	m.Handle("GET /v1/requests/{id}", http.HandlerFunc(h.get))
	m.Handle("POST /v1/requests/{id}/approve", http.HandlerFunc(h.approve))
	m.Handle("POST /v1/requests/{id}/reject", http.HandlerFunc(h.reject))
}

func (h *handlers) viewer(w http.ResponseWriter, r *http.Request) (Viewer, bool) {
	v, aerr := h.who(r)
	if aerr != nil {
		if aerr.status == http.StatusUnauthorized && h.challenge != "" {
			w.Header().Set("WWW-Authenticate", h.challenge)
		}
		control.WriteError(w, aerr.status, aerr.code, aerr.msg)
		return v, false
	}
	return v, true
}

// decider is the caller's identity, required to decide.
func (h *handlers) decider(w http.ResponseWriter, r *http.Request) (Actor, bool) {
	v, ok := h.viewer(w, r)
	if !ok {
		return Actor{}, false
	}
	if v.Actor == nil {
		control.WriteError(w, h.needIdentity.status, h.needIdentity.code, h.needIdentity.msg)
		return Actor{}, false
	}
	return *v.Actor, true
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	v, ok := h.viewer(w, r)
	if !ok {
		return
	}
	rs, err := h.svc.List(r.Context(), v, r.URL.Query().Get("all") == "1")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if rs == nil {
		rs = []*Request{}
	}
	control.WriteJSON(w, http.StatusOK, ListResponse{Requests: rs})
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) {
	v, ok := h.viewer(w, r)
	if !ok {
		return
	}
	req, err := h.svc.View(r.Context(), v, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	control.WriteJSON(w, http.StatusOK, req)
}

func (h *handlers) approve(w http.ResponseWriter, r *http.Request) {
	by, ok := h.decider(w, r)
	if !ok {
		return
	}
	var body ApproveBody
	if !control.DecodeJSON(w, r, &body) {
		return
	}
	req, err := h.svc.Approve(r.Context(), r.PathValue("id"), by, body.Comment)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	control.WriteJSON(w, http.StatusOK, req)
}

func (h *handlers) reject(w http.ResponseWriter, r *http.Request) {
	by, ok := h.decider(w, r)
	if !ok {
		return
	}
	var body RejectBody
	if !control.DecodeJSON(w, r, &body) {
		return
	}
	req, err := h.svc.Reject(r.Context(), r.PathValue("id"), by, body.Reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	control.WriteJSON(w, http.StatusOK, req)
}

// fail maps service errors to statuses; unexpected errors are logged and
// answered without detail.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := errorStatus(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		h.log.Error("approval API error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error (see interlockd's log)"
	}
	control.WriteError(w, status, code, msg)
}

func errorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, control.CodeNotFound
	case errors.Is(err, ErrSelfApproval):
		return http.StatusForbidden, CodeSelfApproval
	case errors.Is(err, ErrNotApprover):
		return http.StatusForbidden, CodeNotApprover
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized, CodeUnauthenticated
	case errors.Is(err, ErrExpired):
		return http.StatusConflict, CodeExpired
	case errors.Is(err, ErrDecided), errors.Is(err, ErrConflict):
		return http.StatusConflict, CodeDecided
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, control.CodeBadRequest
	case errors.Is(err, ErrAudit):
		return http.StatusServiceUnavailable, CodeAuditFailed
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable, CodeUnavailable
	}
	return http.StatusInternalServerError, control.CodeInternal
}
