package testenv

import (
	"fmt"
	"html"
	"net/http"

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
