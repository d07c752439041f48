package main

import (
	"errors"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// auditSink stands in for the syslog daemon: a unixgram socket logingate's
// audit lines go to, read back by the tests.
type auditSink struct {
	path string
	conn *net.UnixConn
}

func listenAudit(path string) (*auditSink, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	return &auditSink{path: path, conn: conn}, nil
}

// drain returns the lines received since the last drain. It does not wait:
// a datagram is queued on the socket before the sender's write returns, so
// once the logingate process has exited every line it sent is here.
func (s *auditSink) drain() ([]string, error) {
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var lines []string
	var recvErr error
	buf := make([]byte, 64<<10)
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK) {
				return true
			}
			if err != nil {
				recvErr = err
				return true
			}
			lines = append(lines, strings.TrimRight(string(buf[:n]), "\n"))
		}
	})
	return lines, errors.Join(err, recvErr)
}

func (s *auditSink) close() {
	s.conn.Close()
	os.Remove(s.path)
}
