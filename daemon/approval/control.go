package approval

import (
	"net/http"

	"github.com/interlock-dev/interlock/daemon/control"
	"github.com/interlock-dev/interlock/daemon/hostsession"
)

// Sessions looks up host sessions; *hostsession.Store implements it.
type Sessions interface {
	Lookup(uid uint32) (*hostsession.Session, bool)
}

// MountControl adds the request routes to the control socket (m is the
// *control.Server):
//
//	GET  /v1/requests[?all=1]         open requests the caller may see
//	GET  /v1/requests/{id}            one request
//	POST /v1/requests/{id}/approve    {"comment": "..."}
//	POST /v1/requests/{id}/reject     {"reason": "..."}
//
// The caller is the host session of its uid (SO_PEERCRED). Root sees every
// request without a session; deciding always needs one.
func MountControl(m Mux, svc *Service, sessions Sessions) {
	h := &handlers{
		svc: svc, log: svc.log.With("transport", "control"),
		who: func(r *http.Request) (Viewer, *authError) { return controlViewer(r, sessions) },
		needIdentity: &authError{http.StatusUnauthorized, control.CodeNoSession,
			"not logged in: run `interlock login`; approving and rejecting need your identity"},
	}
	h.mount(m)
}

func controlViewer(r *http.Request, sessions Sessions) (Viewer, *authError) {
	p, ok := control.PeerOf(r)
	if !ok {
		return Viewer{}, &authError{http.StatusForbidden, control.CodeForbidden, "caller unknown: requests must come through the control socket"}
	}
	v := Viewer{Root: p.IsRoot()}
	if sess, ok := sessions.Lookup(p.UID); ok {
		id := sess.Identity
		uid := p.UID
		v.Actor = &Actor{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Groups: id.Groups, Via: ViaControl, UID: &uid}
	}
	if v.Actor == nil && !v.Root {
		return v, &authError{http.StatusUnauthorized, control.CodeNoSession, "not logged in: run `interlock login`"}
	}
	return v, nil
}
