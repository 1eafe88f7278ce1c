package rawio

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// socketPair returns both ends of a real connection over network.
func socketPair(t *testing.T, network string) (net.Conn, net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestConn(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			a, b := socketPair(t, network)
			sa, sb := Wrap(a), Wrap(b)
			if _, ok := sa.(*Conn); !ok {
				t.Fatalf("Wrap(%T) = %T, want the raw-syscall Conn", a, sa)
			}

			// A write far larger than the socket buffers: partial writes
			// and waits for writability, while the reader is slow.
			want := make([]byte, 8<<20)
			rand.Read(want)
			errc := make(chan error, 1)
			go func() {
				n, err := sa.Write(want)
				if err == nil && n != len(want) {
					err = io.ErrShortWrite
				}
				errc <- err
			}()
			got := make([]byte, 0, len(want))
			buf := make([]byte, 4096)
			for len(got) < len(want) {
				n, err := sb.Read(buf)
				if err != nil {
					t.Fatalf("read after %d bytes: %v", len(got), err)
				}
				got = append(got, buf[:n]...)
				if len(got) < 1<<20 {
					time.Sleep(10 * time.Microsecond)
				}
			}
			if err := <-errc; err != nil {
				t.Fatalf("write: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("bytes differ after the round trip")
			}

			// A read deadline interrupts a blocked read, as for net.Conn.
			_ = b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := sb.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read past the deadline: %v, want os.ErrDeadlineExceeded", err)
			}
			_ = b.SetReadDeadline(time.Time{})

			// The peer closing gives io.EOF once the data is read.
			if _, err := sa.Write([]byte("bye")); err != nil {
				t.Fatal(err)
			}
			a.Close()
			n, err := io.ReadFull(sb, buf[:3])
			if err != nil || string(buf[:n]) != "bye" {
				t.Fatalf("read before EOF: %q %v", buf[:n], err)
			}
			if _, err := sb.Read(buf); err != io.EOF {
				t.Fatalf("read at EOF: %v, want io.EOF", err)
			}

			// Writing to a connection the peer closed fails.
			var werr error
			for range 100 {
				if _, werr = sb.Write(make([]byte, 64<<10)); werr != nil {
					break
				}
			}
			if werr == nil {
				t.Fatal("writes to a closed peer kept succeeding")
			}
		})
	}
}

// TestConnClose: closing the connection from another goroutine ends a
// blocked read, as it does for net.Conn.
func TestConnClose(t *testing.T) {
	a, _ := socketPair(t, "tcp")
	sa := Wrap(a)
	errc := make(chan error, 1)
	go func() {
		_, err := sa.Read(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	a.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed conn: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked read did not end on Close")
	}
}

// TestWrapOther: anything without a raw descriptor is used as it is.
func TestWrapOther(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Fatalf("Wrap(pipe) = %T, want the pipe itself", got)
	}
}

// TestConnWaitsOnFullPipe checks that a raw write to a full pipe waits
// until the reader drains it instead of failing.
func TestConnWaitsOnFullPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rc, err := New(w)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, far over a pipe's buffer
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	n, err := rc.Write(data)
	if err != nil || n != len(data) {
		t.Fatalf("Write to a pipe = %d, %v; want %d, nil", n, err, len(data))
	}
	w.Close()
	if b := <-got; !bytes.Equal(b, data) {
		t.Errorf("the reader got %d bytes, want the %d written", len(b), len(data))
	}
}

// TestBulkBytes: reads and writes of BulkAt bytes or more are counted,
// smaller ones are not.
func TestBulkBytes(t *testing.T) {
	a, b := socketPair(t, "unix")
	sa, sb := Wrap(a), Wrap(b)
	exchange := func(n int) uint64 {
		t.Helper()
		before := BulkBytes()
		errc := make(chan error, 1)
		go func() {
			_, err := sa.Write(make([]byte, n))
			errc <- err
		}()
		buf := make([]byte, n)
		if _, err := io.ReadFull(sb, buf); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		return BulkBytes() - before
	}
	if got := exchange(BulkAt - 1); got != 0 {
		t.Errorf("a %d-byte exchange counted %d bulk bytes, want 0", BulkAt-1, got)
	}
	// The write is counted whole; the reads that got BulkAt bytes or more
	// at once add to it.
	n := 4 * BulkAt
	if got := exchange(n); got < uint64(n) || got > uint64(2*n) {
		t.Errorf("a %d-byte exchange counted %d bulk bytes, want %d to %d", n, got, n, 2*n)
	}
}
