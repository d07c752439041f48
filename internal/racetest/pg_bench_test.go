package racetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/store/pgstore"
	"github.com/logingate/logingate/internal/testutil/pgtest"
)

// BenchmarkConcurrentLogins: 64 gate processes at a time, one user, one
// backup code (one wins; the others hash every code and record a
// failure: the whole login path with its state write, serialised on the
// user), against the file backend and against PostgreSQL in the same run.
// Reports gate decisions per second and the p50/p99 wall time of a gate
// process.
//
//	go test -run '^$' -bench ConcurrentLogins -benchtime 10x ./internal/racetest/
func BenchmarkConcurrentLogins(b *testing.B) {
	const conc = 64
	for _, backend := range []string{"file", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			dir, err := os.MkdirTemp("", "lgbench-")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { os.RemoveAll(dir) })
			sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "log"), Net: "unixgram"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { sock.Close() })
			go func() {
				buf := make([]byte, 8192)
				for {
					if _, err := sock.Read(buf); err != nil {
						return
					}
				}
			}()
			var st store.Store
			extra := ""
			switch backend {
			case "file":
				sd := filepath.Join(dir, "state")
				if err := os.Mkdir(sd, 0o700); err != nil {
					b.Fatal(err)
				}
				extra = "state_dir: " + sd + "\n"
				st = filestore.New(sd, func(string) (int, int, error) { return os.Getuid(), os.Getgid(), nil })
			default:
				srv := pgtest.Start(b)
				dsn := srv.NewDB(b)
				keys, _ := pgstore.ParseKeyring([]byte(pgKey))
				pg, err := pgstore.Open(pgstore.Options{DSN: dsn, Keys: keys, Host: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(pg.Close)
				if _, _, err := pg.Migrate(context.Background()); err != nil {
					b.Fatal(err)
				}
				st = pg
				for p, s := range map[string]string{"dsn": dsn, "keys": pgKey} {
					if err := os.WriteFile(filepath.Join(dir, p), []byte(s+"\n"), 0o600); err != nil {
						b.Fatal(err)
					}
				}
				extra = fmt.Sprintf("store: {backend: postgres, dsn_file: %s/dsn, key_file: %s/keys}\n", dir, dir)
			}
			cfg := filepath.Join(dir, "logingate.yaml")
			body := fmt.Sprintf("accept_env_factor: true\nbackup_codes: {count: %d}\nrate_limit: {failures: 100000, per: 1m}\nsyslog: {socket: %s/log}\n%s",
				backupCount, dir, extra)
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				b.Fatal(err)
			}
			user := currentUser(b)
			enroll := func() string {
				codes, backup, err := factors.GenerateBackupCodes(backupCount, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				err = st.Update(context.Background(), user, func(s *store.UserState) error {
					s.SetFactors(nil, backup)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				return codes[0]
			}
			var lat []time.Duration
			var mu sync.Mutex
			var busy time.Duration
			for range b.N {
				code := enroll()
				start := time.Now()
				var wg sync.WaitGroup
				for range conc {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c := exec.Command(gateBin, "-c", cfg, "true")
						c.Env = []string{"PATH=/usr/bin:/bin", "LOGINGATE_PASSCODE=" + code}
						c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
						t0 := time.Now()
						_ = c.Run()
						d := time.Since(t0)
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}()
				}
				wg.Wait()
				busy += time.Since(start)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/busy.Seconds(), "logins/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

func currentUser(b *testing.B) string {
	out, err := exec.Command("id", "-un").Output()
	if err != nil {
		b.Fatal(err)
	}
	return string(out[:len(out)-1])
}
