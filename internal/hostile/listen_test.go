package hostile

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// listener is a server of the attacker's: it records every connection or
// datagram and the bytes it got.
type listener struct {
	Addr string
	mu   sync.Mutex
	hits int
	got  bytes.Buffer
}

func (l *listener) record(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hits++
	l.got.Write(b)
}

// Seen returns how many connections or datagrams arrived, and their bytes.
func (l *listener) Seen() (int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hits, l.got.String()
}

// tcpListener accepts on 127.0.0.1 and keeps what each client sends in its
// first second.
func tcpListener(t *testing.T) *listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	l := &listener{Addr: ln.Addr().String()}
	go acceptLoop(ln, l, nil)
	return l
}

// pgListener is a fake PostgreSQL server on a unix socket in dir (what
// PGHOST=dir names): it asks every client for a clear-text password and
// keeps the answer.
func pgListener(t *testing.T, dir string) *listener {
	t.Helper()
	path := filepath.Join(dir, ".s.PGSQL.5432")
	ln, err := net.Listen("unix", path)
	must(t, err)
	must(t, os.Chmod(path, 0o777))
	t.Cleanup(func() { ln.Close() })
	l := &listener{Addr: path}
	// AuthenticationCleartextPassword: 'R', length 8, code 3.
	ask := []byte{'R', 0, 0, 0, 8, 0, 0, 0, 3}
	go acceptLoop(ln, l, ask)
	return l
}

func acceptLoop(ln net.Listener, l *listener, reply []byte) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 4096)
			n, _ := c.Read(buf)
			got := append([]byte(nil), buf[:n]...)
			if reply != nil {
				c.Write(reply)
				n, _ = c.Read(buf)
				got = append(got, buf[:n]...)
			}
			l.record(got)
		}()
	}
}

// udpListener records every datagram sent to it (a RADIUS server of the
// attacker's: an Access-Request carries MD5(secret + authenticator) over
// the typed password, enough to crack the shared secret offline).
func udpListener(t *testing.T) *listener {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { pc.Close() })
	l := &listener{Addr: pc.LocalAddr().String()}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			l.record(buf[:n])
		}
	}()
	return l
}

// openWatch reports the files opened or read in a set of directories, by
// any process, from the time it is made: how a file of the attacker's
// learns that the gate read it.
type openWatch struct {
	fd    int
	names map[int32]string
}

func watchOpens(t *testing.T, dirs ...string) *openWatch {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	must(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	w := &openWatch{fd: fd, names: map[int32]string{}}
	for _, d := range dirs {
		wd, err := unix.InotifyAddWatch(fd, d, unix.IN_OPEN|unix.IN_ACCESS)
		must(t, err)
		w.names[int32(wd)] = d
	}
	return w
}

// Opened returns the paths opened or read since the watch began (a
// directory itself when it was listed).
func (w *openWatch) Opened() []string {
	var out []string
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(w.fd, buf)
		if err != nil || n <= 0 {
			return out
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)], "\x00")
			out = append(out, filepath.Join(w.names[ev.Wd], string(name)))
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}
