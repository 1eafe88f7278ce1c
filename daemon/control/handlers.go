package control

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/interlock-dev/interlock/daemon/hostsession"
	"github.com/interlock-dev/interlock/daemon/identity"
)

func (s *Server) routes() {
	s.Handle("GET /v1/config", http.HandlerFunc(s.getConfig))
	s.Handle("POST /v1/login", http.HandlerFunc(s.postLogin))
	s.Handle("GET /v1/session", http.HandlerFunc(s.getSession))
	s.Handle("DELETE /v1/session", http.HandlerFunc(s.deleteSession))
}

func (s *Server) getConfig(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, ConfigResponse{Issuer: s.cfg.Issuer, ClientID: s.cfg.ClientID, Audience: s.cfg.Audience})
}

func (s *Server) postLogin(w http.ResponseWriter, r *http.Request) {
	p, _ := PeerOf(r)
	var req LoginRequest
	if !DecodeJSON(w, r, &req) {
		return
	}
	tok := hostsession.Tokens{IDToken: req.IDToken, AccessToken: req.AccessToken, RefreshToken: req.RefreshToken, Expiry: req.Expiry}
	_, err := s.cfg.Store.Login(r.Context(), p.UID, tok)
	if err != nil {
		status, code := loginErrorStatus(err)
		s.log.Info("login refused", "uid", p.UID, "pid", p.PID, "code", code, "err", err)
		WriteError(w, status, code, "login refused: "+err.Error())
		return
	}
	sess, ok := s.cfg.Store.Lookup(p.UID)
	if !ok {
		WriteError(w, http.StatusConflict, CodeNoSession, "the session ended right after login")
		return
	}
	WriteJSON(w, http.StatusOK, sessionResponse(sess))
}

// loginErrorStatus maps a Login error to an HTTP status and error code.
func loginErrorStatus(err error) (int, string) {
	var te *identity.TokenError
	switch {
	case errors.As(err, &te) && te.Cause == identity.CauseUnavailable:
		return http.StatusServiceUnavailable, string(te.Cause)
	case errors.As(err, &te):
		return http.StatusUnauthorized, string(te.Cause)
	case errors.Is(err, hostsession.ErrNoToken):
		return http.StatusBadRequest, CodeNoToken
	case errors.Is(err, hostsession.ErrClosed):
		return http.StatusServiceUnavailable, CodeInternal
	}
	return http.StatusInternalServerError, CodeInternal
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	p, _ := PeerOf(r)
	sess, ok := s.cfg.Store.Lookup(p.UID)
	if !ok {
		WriteError(w, http.StatusNotFound, CodeNoSession, "not logged in: run `interlock login`")
		return
	}
	WriteJSON(w, http.StatusOK, sessionResponse(sess))
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	p, _ := PeerOf(r)
	ended := s.cfg.Store.Logout(p.UID)
	s.log.Debug("logout", slog.Uint64("uid", uint64(p.UID)), "ended", ended)
	WriteJSON(w, http.StatusOK, LogoutResponse{Ended: ended})
}

func sessionResponse(s *hostsession.Session) SessionResponse {
	groups := s.Identity.Groups
	if groups == nil {
		groups = []string{}
	}
	return SessionResponse{
		UID: s.UID, Issuer: s.Identity.Issuer, Subject: s.Identity.Subject, Email: s.Identity.Email,
		Groups: groups, Expiry: s.Identity.Expiry, LoginAt: s.LoginAt, RefreshedAt: s.RefreshedAt,
		AutoRefresh: s.AutoRefresh,
	}
}
