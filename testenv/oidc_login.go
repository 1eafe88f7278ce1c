package testenv

import (
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	loginPath    = "/login"
	loginQueryID = "authRequestID"
	devicePath   = "/device"
)

// loginHandler is the issuer's login page. It never asks anything: it
// signs the request in as the chosen user (see storage.login) and sends the
// browser back to op's callback, which redirects to the client with a code.
// When logins are denied it redirects to the client with access_denied.
func (i *Issuer) loginHandler(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get(loginQueryID)
	deny, err := i.store.login(id)
	if err != nil {
		http.Error(w, "login: "+err.Error(), http.StatusBadRequest)
		return
	}
	if deny {
		req, err := i.store.AuthRequestByID(r.Context(), id)
		if err != nil {
			http.Error(w, "login: "+err.Error(), http.StatusBadRequest)
			return
		}
		op.AuthRequestError(w, r, req, oidc.ErrAccessDenied().WithDescription("login denied by the test issuer"), i.provider)
		return
	}
	http.Redirect(w, r, op.AuthCallbackURL(i.provider)(r.Context(), id), http.StatusFound)
}

// deviceHandler is the verification URI of the device flow. Visiting it
// with ?user_code=... approves the code as the current login user (see
// SetLoginUser), so a demo can finish the flow in a browser. Tests call
// ApproveDevice or DenyDevice instead.
func (i *Issuer) deviceHandler(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("user_code")
	if code == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<form method="get"><label>Code <input name="user_code"></label> <button>Approve</button></form>`)
		return
	}
	sub := i.LoginUser()
	if err := i.ApproveDevice(code, sub); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<p>Device approved as %s. You may close this page.</p>", html.EscapeString(sub))
}

// login picks the user an auth request signs in as and completes it:
// login_hint (subject or email), else the SetLoginUser choice, else the
// default user. It returns deny=true when logins are set to be denied.
func (s *storage) login(id string) (deny bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return false, fmt.Errorf("auth request %s: %w", id, errNotFound)
	}
	if s.denyLogins {
		return true, nil
	}
	sub := ""
	if hint := a.loginHint; hint != "" {
		for _, u := range s.users {
			if u.Subject == hint || strings.EqualFold(u.Email, hint) {
				sub = u.Subject
			}
		}
		if sub == "" {
			return false, fmt.Errorf("login_hint %q names no user", hint)
		}
	}
	if sub == "" {
		sub = s.loginUser
	}
	if sub == "" {
		sub = s.defaultUser
	}
	if _, ok := s.users[sub]; !ok {
		return false, fmt.Errorf("no user to log in as (%q unknown)", sub)
	}
	a.subject, a.authTime, a.done = sub, time.Now(), true
	return false, nil
}
