package doctor

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSolvedProbesAgreeWithSSHD holds the pattern solver to the real sshd:
// for Match lines with "!" patterns, every connection doctor checks
// (among them the one it solved for the block, and those inside its "!"
// patterns) gets the block's setting from sshd -T -C exactly when doctor's
// reading of the patterns says the block applies, and the solved one does.
func TestSolvedProbesAgreeWithSSHD(t *testing.T) {
	h := newTestHost(t, hostSpec{})
	dir := newGetent()
	lines := []string{
		"User svc-*,!svc-x",
		"User *,!root",
		"User zz*,!zz,!zzx",
		"User !root",
		"Address 10.0.0.0/8,!10.0.0.1",
		"Address 192.0.2.0/24,!192.0.2.0/25,!192.0.2.128/26",
		"Address 203.0.113.*,!203.0.113.1",
		"Address 2001:db8::/32,!2001:db8::/33",
		"Group *,!root",
		"Group !root",
		"User *,!root Address 10.0.0.0/8,!10.0.0.0/16",
		"Host *.example.com,!bad.example.com",
		"LocalAddress 198.51.100.0/24,!198.51.100.1",
	}
	for i, line := range lines {
		conf := filepath.Join(h.dir, "match"+strings.Repeat("x", i)+".conf")
		key := filepath.Join(h.dir, "ssh_host_ed25519_key")
		writeFile(t, conf, "HostKey "+key+"\nMatch "+line+"\n\tPermitTunnel yes\n", 0o644)
		cfg := readSSHDConfig(conf, h.dir, readLimited, filepath.Glob)
		block := cfg.Blocks[0]
		list, _, unsolved := probes(cfg, dir, nil, nil, "22")
		runner := &sshdT{sshd: h.sshd, config: conf, timeout: 30 * time.Second}
		solved := false
		for _, p := range list {
			if p.Synthetic {
				continue
			}
			e, err := runner.run(context.Background(), p.spec())
			if err != nil {
				t.Fatalf("Match %s: %v", line, err)
			}
			got, want := e.get("permittunnel") == "yes", blockApplies(block, p, dir)
			if got != want {
				t.Errorf("Match %s, connection %s: sshd applies the block: %v; doctor's reading: %v", line, p.spec(), got, want)
			}
			if p.Origin == block {
				solved = true
				if !got {
					t.Errorf("Match %s: sshd does not apply the block to the connection doctor solved for it, %s", line, p.spec())
				}
			}
		}
		if !solved && (len(unsolved) != 1 || unsolved[0].Block != block) {
			t.Errorf("Match %s: no connection solved for the block, and not reported as unsolved", line)
		}
		if !solved {
			t.Logf("Match %s: unsolved (matches nothing: %v)", line, len(unsolved) == 1 && unsolved[0].None)
		}
	}
}

// blockApplies is doctor's reading of whether sshd applies a Match block to
// the connection p, from the same pattern rules the solver uses.
func blockApplies(b *matchBlock, p probe, dir directory) bool {
	for _, c := range b.Criteria {
		ok := true
		switch c.Attr {
		case "all":
		case "user":
			ok = matchPatternList(p.User, c.Patterns)
		case "group":
			ok = inGroupList(p.User, c.Patterns, dir)
		case "address":
			ok = addrMatchList(p.Addr, c.Patterns)
		case "localaddress":
			ok = addrMatchList(p.LAddr, c.Patterns)
		case "host":
			ok = matchPatternList(strings.ToLower(p.Host), strings.ToLower(c.Patterns))
		case "localport":
			ok = p.LPort == c.Patterns
		case "rdomain":
			ok = matchPatternList(p.RDomain, c.Patterns)
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	return true
}
