// Package auditsink stands in for the syslog daemon in tests that run the
// gate as a separate process: a unix datagram socket whose path goes into
// the config's syslog.socket, and the lines that arrive on it.
package auditsink

import (
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sink collects every line sent to Path.
type Sink struct {
	Path string

	mu    sync.Mutex
	lines []string
}

// Listen opens the socket at path, writable by every user (gates run as
// the test users), and reads it until the test ends.
func Listen(t testing.TB, path string) *Sink {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		c.Close()
		t.Fatal(err)
	}
	s := &Sink{Path: path}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 8192)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.lines = append(s.lines, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return s
}

// Lines returns the lines received so far that contain every one of parts.
func (s *Sink) Lines(parts ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.lines {
		if containsAll(l, parts) {
			out = append(out, l)
		}
	}
	return out
}

// All returns every line received so far, one a line.
func (s *Sink) All() string { return strings.Join(s.Lines(), "\n") }

// Reset forgets the lines received so far.
func (s *Sink) Reset() {
	s.mu.Lock()
	s.lines = nil
	s.mu.Unlock()
}

// WaitFor returns the first line that contains every one of parts, waiting
// up to five seconds for the datagram; the test fails without one.
func (s *Sink) WaitFor(t testing.TB, parts ...string) string {
	t.Helper()
	if l := s.WaitN(1, 5*time.Second, parts...); len(l) > 0 {
		return l[0]
	}
	t.Fatalf("no audit line with %q; have:\n%s", parts, s.All())
	return ""
}

// WaitN returns the lines that contain every one of parts once n of them
// have arrived, or what there is after timeout. A gate sends its line
// before it exits; the wait covers only this reader catching up.
func (s *Sink) WaitN(n int, timeout time.Duration, parts ...string) []string {
	deadline := time.Now().Add(timeout)
	for {
		lines := s.Lines(parts...)
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
