package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
)

const testSecret = "s3cret-for-tests"

// fake is a scripted RADIUS server on loopback: answer decides, for each
// request it receives, which datagrams go back.
type fake struct {
	conn   net.PacketConn
	answer func(req []byte, from net.Addr) [][]byte

	mu   sync.Mutex
	reqs [][]byte
}

func newFake(t *testing.T, answer func(req []byte, from net.Addr) [][]byte) *fake {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{conn: c, answer: answer}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			req := append([]byte(nil), buf[:n]...)
			f.mu.Lock()
			f.reqs = append(f.reqs, req)
			f.mu.Unlock()
			for _, out := range answer(req, from) {
				_, _ = c.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return f
}

func (f *fake) addr() string { return f.conn.LocalAddr().String() }

func (f *fake) requests() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.reqs...)
}

// reply builds an answer to req: code, attrs (type, value pairs), and a
// valid Message-Authenticator first when withMA. The Response
// Authenticator is correct for secret.
func reply(req []byte, secret string, code byte, withMA bool, attrs ...attr) []byte {
	b := make([]byte, headerLen)
	b[0], b[1] = code, req[1]
	copy(b[4:20], req[4:20])
	maAt := -1
	if withMA {
		maAt = len(b) + 2
		b = append(b, typeMessageAuthenticator, 18)
		b = append(b, make([]byte, 16)...)
	}
	for _, a := range attrs {
		b = append(append(b, a.t, byte(2+len(a.v))), a.v...)
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	if maAt >= 0 {
		m := hmac.New(md5.New, []byte(secret))
		m.Write(b)
		copy(b[maAt:], m.Sum(nil))
	}
	sign(b, req, secret)
	return b
}

// sign sets b's Response Authenticator for req and secret.
func sign(b, req []byte, secret string) {
	copy(b[4:20], req[4:20])
	h := md5.New()
	h.Write(b)
	h.Write([]byte(secret))
	copy(b[4:20], h.Sum(nil))
}

type attr struct {
	t byte
	v []byte
}

func replyMessage(s string) attr { return attr{typeReplyMessage, []byte(s)} }
func state(s string) attr        { return attr{typeState, []byte(s)} }

// attrsOf parses a request's attributes for assertions.
func attrsOf(t *testing.T, req []byte) radius.Attributes {
	t.Helper()
	a, err := radius.ParseAttributes(req[headerLen:])
	if err != nil {
		t.Fatalf("request attributes: %v", err)
	}
	return a
}

func server(addr string) Server {
	return Server{Address: addr, Secret: Secret(testSecret), Timeout: 200 * time.Millisecond, Retries: 1, RequireMessageAuthenticator: true}
}
