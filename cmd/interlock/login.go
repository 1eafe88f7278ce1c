package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/interlock-dev/interlock/daemon/control"
	"github.com/interlock-dev/interlock/daemon/hostsession"
)

// loginOptions are the flags of `interlock login`.
type loginOptions struct {
	device    bool
	issuer    string
	clientID  string
	socket    string
	noBrowser bool
	timeout   time.Duration
}

// runLogin implements `interlock login [--device] [--issuer URL
// --client-id ID] [--socket PATH] [--no-browser] [--timeout D]`. Prompts
// go to stderr, the result to stdout.
func runLogin(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, socket := newFlags("login", "[--device] [--issuer URL --client-id ID] [--socket PATH] [--no-browser]", stderr)
	var o loginOptions
	fs.BoolVar(&o.device, "device", false, "use the device authorization grant (for hosts without a browser)")
	fs.StringVar(&o.issuer, "issuer", "", "OIDC issuer URL (default: interlockd's)")
	fs.StringVar(&o.clientID, "client-id", "", "OAuth client ID of the CLI (default: interlockd's)")
	fs.BoolVar(&o.noBrowser, "no-browser", false, "print the login URL without trying to open a browser")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up if the login is not finished in this time")
	if !parse(fs, args) {
		return exitUsage
	}
	o.socket = socketPath(*socket)
	sess, err := login(ctx, o, stderr)
	if err != nil {
		return fail(stderr, "login", err)
	}
	fmt.Fprintf(stdout, "Logged in as %s", sess.Subject)
	if sess.Email != "" {
		fmt.Fprintf(stdout, " <%s>", sess.Email)
	}
	groups := strings.Join(sess.Groups, ", ")
	if groups == "" {
		groups = "none"
	}
	auto := "off"
	if sess.AutoRefresh {
		auto = "on"
	}
	fmt.Fprintf(stdout, "; groups: %s; expires %s; auto-refresh %s\n", groups, describeExpiry(sess.Expiry), auto)
	return exitOK
}

// login runs the OIDC flow, checks the ID token and hands the tokens to
// interlockd, which binds them to our uid.
func login(ctx context.Context, o loginOptions, prompt io.Writer) (*control.SessionResponse, error) {
	c := control.NewClient(o.socket)
	defer c.Close()
	if o.issuer == "" || o.clientID == "" {
		cfg, err := c.Config(ctx)
		if err != nil {
			return nil, fmt.Errorf("ask interlockd for the identity provider (or pass --issuer and --client-id): %w", err)
		}
		if o.issuer == "" {
			o.issuer = cfg.Issuer
		}
		if o.clientID == "" {
			o.clientID = cfg.ClientID
		}
		if o.issuer == "" || o.clientID == "" {
			return nil, errors.New("interlockd has no issuer or CLI client id configured: pass --issuer and --client-id")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	ctx = oidc.ClientContext(ctx, &http.Client{Timeout: 30 * time.Second})
	provider, err := oidc.NewProvider(ctx, o.issuer)
	if err != nil {
		return nil, fmt.Errorf("discover issuer %s: %w", o.issuer, err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams // public client: no secret
	conf := &oauth2.Config{ClientID: o.clientID, Endpoint: ep, Scopes: hostsession.Scopes}

	var tok *oauth2.Token
	var nonce string
	if o.device {
		tok, err = deviceFlow(ctx, conf, prompt)
	} else {
		tok, nonce, err = codeFlow(ctx, conf, prompt, o.noBrowser)
	}
	if err != nil {
		return nil, flowError(ctx, err, o.timeout)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, errors.New("the identity provider returned no ID token (is the openid scope allowed for this client?)")
	}
	idTok, err := provider.Verifier(&oidc.Config{ClientID: o.clientID}).Verify(ctx, rawID)
	if err != nil {
		return nil, fmt.Errorf("verify ID token: %w", err)
	}
	if idTok.Nonce != nonce {
		return nil, errors.New("verify ID token: nonce mismatch (replayed response?)")
	}
	sess, err := c.Login(ctx, control.LoginRequest{
		IDToken: rawID, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry,
	})
	if err != nil {
		return nil, fmt.Errorf("hand the tokens to interlockd: %w", err)
	}
	return sess, nil
}

// flowError makes flow failures one clear line.
func flowError(ctx context.Context, err error, timeout time.Duration) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("login not finished within %s (--timeout)", timeout)
	case errors.Is(ctx.Err(), context.Canceled):
		return errors.New("login cancelled")
	case errors.As(err, &re) && re.ErrorCode == "access_denied":
		return errors.New("the identity provider denied the login")
	case errors.As(err, &re) && re.ErrorCode == "expired_token":
		return errors.New("the code expired before it was approved: run `interlock login --device` again")
	case errors.As(err, &re) && re.ErrorCode != "":
		desc := re.ErrorDescription
		if desc == "" {
			desc = re.ErrorCode
		}
		return fmt.Errorf("identity provider: %s (%s)", desc, re.ErrorCode)
	}
	return err
}
