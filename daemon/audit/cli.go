package audit

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
)

// Exit codes of RunVerify.
const (
	ExitOK       = 0 // the chain verified
	ExitTampered = 1 // a failure was found
	ExitUsage    = 2 // bad arguments, unreadable files or key
)

// RunVerify implements `interlock audit verify FILE... [--pubkey KEY]
// [--live] [--partial]`. args are the arguments after "verify"; flags may
// come before or after the files. It prints the report to stdout and
// returns ExitOK, ExitTampered or ExitUsage.
func RunVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("interlock audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubkey := fs.String("pubkey", "", "public key file (PEM or base64) to check checkpoint signatures; without it signatures are not verified")
	live := fs.Bool("live", false, "the daemon is still writing: an unsealed tail and no final checkpoint are not failures")
	partial := fs.Bool("partial", false, "the oldest files were pruned: do not require the chain to start at seq 0")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: interlock audit verify FILE|DIR... [--pubkey KEY] [--live] [--partial]")
		fs.PrintDefaults()
	}
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return ExitUsage // flag printed the error and usage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		files = append(files, args[0])
		args = args[1:]
	}
	if len(files) == 0 {
		fs.Usage()
		return ExitUsage
	}
	var key ed25519.PublicKey
	if *pubkey != "" {
		k, err := PublicKeyFromFile(*pubkey)
		if err != nil {
			fmt.Fprintf(stderr, "interlock audit verify: %v\n", err)
			return ExitUsage
		}
		key = k
	}
	rep, err := Verify(ctx, VerifyOptions{Files: files, PublicKey: key, Live: *live, Partial: *partial})
	if err != nil {
		fmt.Fprintf(stderr, "interlock audit verify: %v\n", err)
		return ExitUsage
	}
	fmt.Fprint(stdout, rep.String())
	if !rep.OK() {
		return ExitTampered
	}
	return ExitOK
}
