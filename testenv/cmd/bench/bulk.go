package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"time"
)

// sinkResult is what the bulk sink received from one connection.
type sinkResult struct {
	bytes   int64
	elapsed time.Duration // from accept to end of stream
	err     error
}

// runBulk is the guard-bulk workload: a sender (the bench re-executed,
// placed like the target places pgbench: in the redirect's cgroup) writes
// to a sink in this process on an unprotected loopback port for d. A
// "transaction" is one MiB: TPS is MiB/s and client CPU the sender's per
// MiB. Nothing goes through interlockd, so no proxy or PostgreSQL CPU.
func runBulk(ctx context.Context, st *stack, t *target, d time.Duration, name string) runResult {
	res := runResult{P50: math.NaN(), P99: math.NaN()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		res.Err = fmt.Errorf("bulk sink: %w", err)
		return res
	}
	defer ln.Close()
	sink := make(chan sinkResult, 1)
	go func() { sink <- receive(ln) }()

	cmd, err := helperCommand(ctx, helperBulkSend, ln.Addr().String(), d.String())
	if err != nil {
		res.Err = err
		return res
	}
	if t.Prepare != nil {
		if err := t.Prepare(cmd); err != nil {
			res.Err = fmt.Errorf("prepare bulk sender for %s: %w", t.Name, err)
			return res
		}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	runErr := cmd.Run()
	if runErr != nil {
		ln.Close() // an Accept still waiting returns
		if ctx.Err() != nil {
			res.Err = ctx.Err()
		} else {
			res.Err = fmt.Errorf("bulk sender (%s): %w: %s", name, runErr, tail(errOut.String(), 5))
		}
		return res
	}
	var got sinkResult
	select {
	case got = <-sink:
	case <-time.After(10 * time.Second):
		ln.Close()
		res.Err = errors.New("bulk sink: no end of stream 10s after the sender exited")
		return res
	}
	sent, err := parseBytes(out.String())
	switch {
	case err != nil:
		res.Err = err
	case got.err != nil:
		res.Err = fmt.Errorf("bulk sink: %w", got.err)
	case got.bytes != sent:
		res.Err = fmt.Errorf("bulk sink received %d bytes, the sender wrote %d", got.bytes, sent)
	case got.bytes < 1<<20 || got.elapsed <= 0:
		res.Err = fmt.Errorf("bulk transfer too short: %d bytes in %v", got.bytes, got.elapsed)
	}
	if res.Err != nil {
		return res
	}
	res.TPS = float64(got.bytes) / (1 << 20) / got.elapsed.Seconds()
	res.Txns = got.bytes >> 20
	res.ClientCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res
}

// receive accepts one connection on ln and reads it to the end.
func receive(ln net.Listener) sinkResult {
	c, err := ln.Accept()
	if err != nil {
		return sinkResult{err: err}
	}
	defer c.Close()
	start := time.Now()
	buf := make([]byte, bulkChunk)
	var n int64
	for {
		k, err := c.Read(buf)
		n += int64(k)
		if errors.Is(err, io.EOF) {
			return sinkResult{bytes: n, elapsed: time.Since(start)}
		}
		if err != nil {
			return sinkResult{bytes: n, elapsed: time.Since(start), err: err}
		}
	}
}
