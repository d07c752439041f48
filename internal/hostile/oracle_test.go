package hostile

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// No code the caller types reaches a server named by anything but root's
// config, and no group-only secret is used under a config the caller
// wrote: her config, named by -c (as a file of hers, and through reproduction
// 1's ".." trick), points RADIUS at her own UDP port and Duo at her own TCP
// port while keeping root's secret_file and skey_file. Her listeners must
// receive nothing: an Access-Request alone is enough to crack the RADIUS
// secret offline, and a signed Duo request is the skey's use.
func TestCallerConfigReachesNoServer(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "oracle")
	radius := udpListener(t)
	duo := tcpListener(t)
	evil := h.baseConfig() + h.radiusConfig(radius.Addr) + h.duoConfig(duo.Addr) + "groups: [\"*\"]\nfailmode: safe\n"
	own := filepath.Join(u.Home, "evil.yaml")
	rel := strings.TrimPrefix(h.config, "/")
	depth := strings.Count(strings.Trim(u.Home, "/"), "/") + 1
	dotdot := filepath.Join(u.Home, "L") + strings.Repeat("/..", depth+1) + "/" + rel
	setup := fmt.Sprintf("mkdir -p ~/a/b/c %q && ln -s ~/a/b/c ~/L && cat > %q && cp %q %q",
		filepath.Dir(filepath.Join(u.Home, rel)), own, own, filepath.Join(u.Home, rel))
	cmd := shell(u, userEnv(u), setup)
	cmd.Stdin = strings.NewReader(evil)
	if r := runFor(t, cmd, 10*time.Second); r.code != 0 {
		t.Fatalf("planting the attacker's config: %v", r)
	}
	for _, path := range []string{own, dotdot} {
		cmd := asUser(u, userEnv(u, "LOGINGATE_PASSCODE=123456"), h.bin, "-c", path, "--", "echo", marker)
		r := runFor(t, cmd, 30*time.Second)
		if n, got := radius.Seen(); n > 0 {
			t.Errorf("-c %s: the typed code reached the attacker's RADIUS server (%d datagrams, %d bytes): the shared secret can be cracked offline", path, n, len(got))
		}
		if n, _ := duo.Seen(); n > 0 {
			t.Errorf("-c %s: the gate connected to the attacker's Duo host (%d connections) with root's skey_file", path, n)
		}
		mustDeny(t, "-c "+path, r)
	}
}

// contents are what a group-only secret file might hold; none may show
// through an error the caller sees.
var contents = map[string]string{
	"empty":      "",
	"too large":  strings.Repeat("A", 1<<20),
	"two lines":  "first\nsecond\n",
	"yaml":       "state_dir: /nonexistent\ngroups: [\"*\"]\n",
	"key line":   "k9:" + strings.Repeat("QUJD", 11) + "\n",
	"bad yaml":   "{{{: [\n",
	"whitespace": "   \n",
	"dsn line":   "user=x password=y host=/nonexistent\n",
}

// notConfigs are the contents that are no valid config either, for -c
// naming a secret file itself (an empty file is a valid config).
var notConfigs = []string{"too large", "two lines", "key line", "bad yaml", "dsn line"}

// digits hides numbers (pids, times, byte counts are not what is compared).
var digits = regexp.MustCompile(`[0-9]+`)

// What a non-root caller of the privileged gate is told about a config or
// secret-file error does not depend on what the group-only file holds: she
// names the secret file itself with -c, or root's config names it as
// skey_file, secret_file, dsn_file or key_file, and the file's content
// varies. -d, which copies audit reasons to her stderr, included. A content
// that is a valid secret (root's Duo or RADIUS server, a listener here, then
// gets a request) is no error and is left out of the comparison.
func TestSecretFileErrorsDoNotVary(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "errs")
	duo, radius := tcpListener(t), udpListener(t)
	store := fmt.Sprintf("store:\n  backend: postgres\n  dsn_file: %s\n  key_file: %s\n  timeout: 1s\n", h.dsn, h.keys)
	all := make([]string, 0, len(contents))
	for name := range contents {
		all = append(all, name)
	}
	cases := []struct {
		name, file, config string
		server             *listener
		contents           []string
		valid              []string // contents that are a valid secret without a server to ask
	}{
		{"-c names the skey_file", h.skey, h.skey, nil, notConfigs, nil},
		{"-c names the dsn_file", h.dsn, h.dsn, nil, notConfigs, nil},
		{"skey_file", h.skey, h.duoConfig(duo.Addr) + "groups: [\"*\"]\n", duo, all, nil},
		{"secret_file", h.radiusSecret, h.radiusConfig(radius.Addr) + "groups: [\"*\"]\n", radius, all, nil},
		// A DSN that parses names where the store is: the gate then tries
		// it, and an unreachable store follows failmode.
		{"dsn_file", h.dsn, store, nil, all, []string{"dsn line"}},
		{"key_file", h.keys, store, nil, all, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.config
			if !strings.HasPrefix(cfg, "/") {
				cfg = filepath.Join(h.etc, "errs.yaml")
				h.writeConfig(t, cfg, c.config)
			}
			original, err := os.ReadFile(c.file)
			must(t, err)
			t.Cleanup(func() { os.WriteFile(c.file, original, 0o640) })
			for _, debug := range []bool{false, true} {
				flags := []string{"-c", cfg}
				if debug {
					flags = append(flags, "-d")
				}
				seen := map[string][]string{}
				var valid []string
				for _, name := range c.contents {
					if slices.Contains(c.valid, name) {
						valid = append(valid, name)
						continue
					}
					must(t, os.WriteFile(c.file, []byte(contents[name]), 0o640))
					before := 0
					if c.server != nil {
						before, _ = c.server.Seen()
					}
					cmd := asUser(u, userEnv(u, "LOGINGATE_PASSCODE=123456"), h.bin, append(flags, "--", "echo", marker)...)
					r := runFor(t, cmd, 30*time.Second)
					mustDeny(t, name, r)
					if c.server != nil {
						if after, _ := c.server.Seen(); after > before {
							valid = append(valid, name)
							continue
						}
					}
					said := fmt.Sprintf("exit %d: %s", r.code, digits.ReplaceAllString(r.stderr, "N"))
					seen[said] = append(seen[said], name)
				}
				if len(seen) > 1 {
					var b strings.Builder
					for said, names := range seen {
						fmt.Fprintf(&b, "\n%q for %q", clip(said), names)
					}
					t.Errorf("-d=%v: the caller is told different things for different contents (%q were valid secrets):%s", debug, valid, b.String())
				}
			}
		})
	}
}
