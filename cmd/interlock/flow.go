package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os/exec"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// callbackPath is the path of the loopback redirect URI.
const callbackPath = "/callback"

type callback struct {
	code string
	err  error
}

// codeFlow runs the authorization code flow with PKCE (S256) and a
// loopback redirect on 127.0.0.1 (RFC 8252). It returns the tokens and
// the nonce the ID token must carry.
func codeFlow(ctx context.Context, conf *oauth2.Config, prompt io.Writer, noBrowser bool) (*oauth2.Token, string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("listen for the login redirect: %w", err)
	}
	conf.RedirectURL = fmt.Sprintf("http://%s%s", ln.Addr(), callbackPath)
	state, nonce, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()

	got := make(chan callback, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+callbackPath, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			http.Error(w, "state mismatch: this response is not for the running `interlock login`", http.StatusBadRequest)
			return
		}
		cb := callback{code: q.Get("code")}
		switch {
		case q.Get("error") != "":
			cb.err = &oauth2.RetrieveError{ErrorCode: q.Get("error"), ErrorDescription: q.Get("error_description")}
		case cb.code == "":
			cb.err = errors.New("the identity provider redirected without a code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if cb.err != nil {
			fmt.Fprintf(w, "<p>Interlock login failed: %s</p>", html.EscapeString(cb.err.Error()))
		} else {
			fmt.Fprint(w, "<p>Logged in to Interlock. You can close this window.</p>")
		}
		select {
		case got <- cb:
		default:
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown below
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	fmt.Fprintf(prompt, "Open this URL in your browser to log in:\n\n  %s\n\n", authURL)
	if !noBrowser && openBrowser(authURL) {
		fmt.Fprintln(prompt, "(A browser window was opened.)")
	}
	fmt.Fprintln(prompt, "Waiting for the identity provider... (Ctrl-C to cancel)")

	var cb callback
	select {
	case <-ctx.Done():
		return nil, "", ctx.Err()
	case cb = <-got:
	}
	if cb.err != nil {
		return nil, "", cb.err
	}
	tok, err := conf.Exchange(ctx, cb.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, "", fmt.Errorf("exchange the authorization code: %w", err)
	}
	return tok, nonce, nil
}

// deviceFlow runs the device authorization grant (RFC 8628): the person
// approves the code on another device while we poll.
func deviceFlow(ctx context.Context, conf *oauth2.Config, prompt io.Writer) (*oauth2.Token, error) {
	if conf.Endpoint.DeviceAuthURL == "" {
		return nil, errors.New("the identity provider does not offer the device flow (no device_authorization_endpoint)")
	}
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		return nil, fmt.Errorf("start the device login: %w", err)
	}
	fmt.Fprintf(prompt, "To log in, open this URL on any device:\n\n  %s\n\nand enter the code: %s\n\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(prompt, "Or open this URL, which includes the code:\n\n  %s\n\n", da.VerificationURIComplete)
	}
	fmt.Fprintln(prompt, "Waiting for approval... (Ctrl-C to cancel)")
	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil {
		return nil, err
	}
	return tok, nil
}

// openBrowser tries xdg-open, best effort; it reports whether it started.
func openBrowser(url string) bool {
	path, err := exec.LookPath("xdg-open")
	if err != nil {
		return false
	}
	cmd := exec.Command(path, url)
	if err := cmd.Start(); err != nil {
		return false
	}
	go cmd.Wait() //nolint:errcheck // best effort; reaps the child
	return true
}
