package doctor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/store/filestore"
)

// fakeDir is a directory of users and groups for probe tests.
type fakeDir struct {
	users  []account
	groups []group
}

func (d fakeDir) Users() []account { return d.users }
func (d fakeDir) Groups() []group  { return d.groups }
func (d fakeDir) Group(name string) (group, bool) {
	for _, g := range d.groups {
		if g.Name == name {
			return g, true
		}
	}
	return group{}, false
}

var testDir = fakeDir{
	users: []account{
		{Name: "root", UID: 0, GID: 0, Shell: "/bin/bash"},
		{Name: "daemon", UID: 1, GID: 1, Shell: "/usr/sbin/nologin"},
		{Name: "svc", UID: 1000, GID: 1000, Shell: "/usr/sbin/nologin"},
		{Name: "alice", UID: 1001, GID: 1001, Shell: "/bin/bash"},
		{Name: "admin7", UID: 1002, GID: 1002, Shell: "/bin/bash"},
		{Name: "dora", UID: 1003, GID: 50, Shell: "/bin/zsh"},
	},
	groups: []group{
		{Name: "wheel", GID: 10, Members: []string{"alice"}},
		{Name: "staff", GID: 50},
		{Name: "empty", GID: 60},
	},
}

func TestProbes(t *testing.T) {
	cfg := parseSSHDConfigData("sshd_config", []byte(`ForceCommand /usr/local/bin/logingate
Match User bob,carol
	PermitTunnel yes
Match User admin*
	PermitTunnel yes
Match Group wheel Address 10.0.0.0/8
	PermitTunnel yes
Match Group staff
	PermitTunnel yes
Match Group empty
	ForceCommand none
Match Host *.example.com LocalAddress 192.0.2.1 LocalPort 2222 RDomain vrf?
	PermitTunnel yes
Match User !root
	PermitTunnel yes
Match All
	PermitTunnel yes
Match User *,!carol
	PermitTunnel yes
Match Address 10.0.0.0/8,!10.0.0.0/16
	PermitTunnel yes
Match User zz*,!zz,!zzx
	PermitTunnel yes
Match Group *,!wheel
	PermitTunnel yes
`))
	list, truncated, unsolved := probes(cfg, testDir, []string{"erin"}, []string{"198.51.100.7"}, "22")
	if truncated {
		t.Error("truncated")
	}
	var specs []string
	var synthetic []string
	for _, p := range list {
		if p.Synthetic {
			synthetic = append(synthetic, p.label())
			continue
		}
		specs = append(specs, p.spec())
	}
	for _, want := range []string{
		"user=root,host=203.0.113.10,addr=203.0.113.10,laddr=127.0.0.1,lport=22",
		"user=alice,host=203.0.113.10,addr=203.0.113.10,laddr=127.0.0.1,lport=22", // the ordinary user
		"user=bob,host=203.0.113.10,addr=203.0.113.10,laddr=127.0.0.1,lport=22",
		"user=admin7,host=203.0.113.10,addr=203.0.113.10,laddr=127.0.0.1,lport=22", // an existing match for admin*
		"user=alice,host=10.0.0.1,addr=10.0.0.1,laddr=127.0.0.1,lport=22",          // wheel's member, in 10/8
		"user=dora,host=203.0.113.10,addr=203.0.113.10,laddr=127.0.0.1,lport=22",   // staff by primary group
		"user=alice,host=x.example.com,addr=203.0.113.10,laddr=192.0.2.1,lport=2222,rdomain=vrfx",
		"user=erin,host=198.51.100.7,addr=198.51.100.7,laddr=127.0.0.1,lport=22",
		"user=root,host=10.0.0.1,addr=10.0.0.1,laddr=127.0.0.1,lport=22",
		"user=carol,host=203.0.113.10,addr=203.0.113.10,laddr=127.0.0.1,lport=22", // left out by *,!carol
		"user=alice,host=10.1.0.0,addr=10.1.0.0,laddr=127.0.0.1,lport=22",         // in 10/8, not in 10.0/16
		"user=root,host=10.0.0.1,addr=10.0.0.1,laddr=127.0.0.1,lport=22",          // left out by !10.0.0.0/16
		"user=zzq,host=203.0.113.10,addr=203.0.113.10,laddr=127.0.0.1,lport=22",   // made up: zz* but not zz or zzx
		"user=dora,host=203.0.113.10,addr=203.0.113.10,laddr=127.0.0.1,lport=22",  // in staff, not in wheel
	} {
		if !slices.Contains(specs, want) {
			t.Errorf("no probe %s", want)
		}
	}
	if !slices.Equal(synthetic, []string{"members of group empty (none exist now; read from sshd_config:10)"}) {
		t.Errorf("synthetic probes %q", synthetic)
	}
	if len(unsolved) != 1 || unsolved[0].Block.At.Line != 14 || !unsolved[0].None {
		t.Errorf("unsolved %+v, want the Match User !root block (line 14), which matches no connection", unsolved)
	}
	for _, p := range list {
		if p.Origin != nil && !p.Synthetic && p.Origin.At.Line == 18 && p.User == "carol" {
			t.Errorf("the probe for Match User *,!carol is carol")
		}
		if p.Origin != nil && !p.Synthetic && p.Origin.At.Line == 24 && p.User == "alice" {
			t.Errorf("the probe for Match Group *,!wheel is alice, a member of wheel")
		}
	}
	seen := map[string]bool{}
	for _, s := range specs {
		if seen[s] {
			t.Errorf("probe %s twice", s)
		}
		seen[s] = true
	}
	if list[0].User != "root" || list[1].User != "alice" {
		t.Errorf("root and the ordinary user are not first: %s, %s", list[0].label(), list[1].label())
	}
}

func TestProbesCap(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 40; i++ {
		b.WriteString("Match User u" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + " Address 10.0." + string(rune('0'+i%10)) + ".0/24\n\tPermitTunnel yes\n")
	}
	list, truncated, _ := probes(parseSSHDConfigData("c", []byte(b.String())), testDir, nil, nil, "22")
	if !truncated || len(list) != maxProbes {
		t.Errorf("%d probes, truncated %v; want %d and truncated", len(list), truncated, maxProbes)
	}
}

func TestSampleUser(t *testing.T) {
	if got := sampleUser(testDir); got != "alice" {
		t.Errorf("sample user %q, want alice (svc has no login shell)", got)
	}
	if got := sampleUser(fakeDir{}); got != "logingate-doctor-probe" {
		t.Errorf("sample user without accounts %q", got)
	}
}

func TestOverlay(t *testing.T) {
	ref, err := parseEffective([]byte(readTestdata(t, "sshd-T-debian12.txt")))
	if err != nil {
		t.Fatal(err)
	}
	cfg := parseSSHDConfigData("c", []byte("Match Group g\n\tForceCommand=internal-sftp -d /x\n\tAcceptEnv A\n\tAcceptEnv B\n\tX11Forwarding no\n\tX11Forwarding yes\n"))
	e := overlay(ref, cfg.Blocks[0])
	if e.raw("forcecommand") != "internal-sftp -d /x" {
		t.Errorf("forcecommand %q", e.raw("forcecommand"))
	}
	if !slices.Equal(e["acceptenv"], []string{"A", "B"}) {
		t.Errorf("acceptenv %q: a block's AcceptEnv replaces the global list", e["acceptenv"])
	}
	if e.get("x11forwarding") != "no" {
		t.Errorf("x11forwarding %q: the first value in a block wins", e.get("x11forwarding"))
	}
	if ref.raw("forcecommand") != "none" || !slices.Equal(ref["acceptenv"], []string{"LANG", "LC_*"}) {
		t.Error("overlay changed the reference")
	}
}

func TestStateDirVerdict(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	cases := []struct {
		mode os.FileMode
		uid  int
		sev  severity
		fix  string
	}{
		{0o733 | os.ModeSticky, 0, sevMedium, "install the gate privileged"},
		{0o755, 0, sevMedium, "install the gate privileged"},
		{0o700, 0, sevMedium, "install the gate privileged"},
		{0o777 | os.ModeSticky, 0, sevLow, "chmod 1733"},
		{0o777, 0, sevHigh, "chmod 1733"},
		{0o775, 0, sevHigh, "chmod 1733"},
		{0o733 | os.ModeSticky, 65534, sevHigh, "chown root:root"},
	}
	for i, tc := range cases {
		dir := filepath.Join(base, string(rune('a'+i)))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, tc.uid, -1); err != nil {
			t.Fatal(err)
		}
		f := stateDirVerdict(dir, -1)
		if f.Severity != tc.sev || !strings.HasPrefix(f.Fix, tc.fix) {
			t.Errorf("mode %v uid %d: %s %q, want %s %q…", tc.mode, tc.uid, f.Severity, f.Fix, tc.sev, tc.fix)
		}
		if !strings.Contains(f.Problem, dir) {
			t.Errorf("mode %v uid %d: %q does not name %s", tc.mode, tc.uid, f.Problem, dir)
		}
	}
	if f := stateDirVerdict(filepath.Join(base, "missing"), -1); f.Severity != sevLow || !strings.Contains(f.Fix, "install -d -m 1733") {
		t.Errorf("missing state dir: %+v", f)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(base, link); err != nil {
		t.Fatal(err)
	}
	if f := stateDirVerdict(link, -1); f.Severity != sevHigh {
		t.Errorf("symlinked state dir: %+v", f)
	}

	// A setgid gate expects the protected layout, root:GROUP 0770.
	const gid = 4242
	for _, tc := range []struct {
		mode     os.FileMode
		uid, gid int
		sev      severity
	}{
		{0o770, 0, gid, sevInfo},
		{0o730, 0, gid, sevInfo},
		{0o775, 0, gid, sevHigh},               // others may enter
		{0o733 | os.ModeSticky, 0, 0, sevHigh}, // the old per-user layout: migrate
		{0o770, 65534, gid, sevHigh},           // not root's
		{0o750, 0, gid, sevHigh},               // the group cannot create
	} {
		dir := filepath.Join(base, fmt.Sprintf("p%o-%d-%d", tc.mode, tc.uid, tc.gid))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, tc.mode)
		if err := os.Chown(dir, tc.uid, tc.gid); err != nil {
			t.Fatal(err)
		}
		if f := stateDirVerdict(dir, gid); f.Severity != tc.sev {
			t.Errorf("protected layout, mode %v uid %d gid %d: %s (%s), want %s", tc.mode, tc.uid, tc.gid, f.Severity, f.Problem, tc.sev)
		} else if tc.sev == sevHigh && (!strings.Contains(f.Problem, dir) || !strings.Contains(f.Fix, "logingate migrate")) {
			t.Errorf("protected layout, mode %v uid %d gid %d: %q, fix %q: want the path and the migrate fix", tc.mode, tc.uid, tc.gid, f.Problem, f.Fix)
		}
	}
	if f := stateDirVerdict(filepath.Join(base, "missing"), gid); f.Severity != sevHigh || !strings.Contains(f.Fix, "install -d -m 0770 -o root -g 4242") {
		t.Errorf("missing protected state dir: %+v", f)
	}
}

// Doctor's verdict is the store's: a state directory is a high finding
// exactly when the store refuses it, in either layout, and the finding
// carries the store's problem and fix. (What the store accepts, doctor may
// still rate low or medium: who can list the enrolled, or the per-user
// layout itself.)
func TestStateDirVerdictIsTheStores(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	const gid = 4242
	modes := []os.FileMode{0o700, 0o755, 0o775, 0o777, 0o707, 0o770, 0o730, 0o750, 0o771,
		0o733 | os.ModeSticky, 0o777 | os.ModeSticky, 0o770 | os.ModeSticky, 0o770 | os.ModeSetgid}
	n := 0
	for _, mode := range modes {
		for _, uid := range []int{0, 65534} {
			for _, g := range []int{0, gid} {
				n++
				dir := filepath.Join(base, strconv.Itoa(n))
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(dir, uid, g); err != nil {
					t.Fatal(err)
				}
				for _, layout := range []int{-1, gid} {
					var group *int
					if layout >= 0 {
						group = &layout
					}
					err := filestore.CheckStateDir(dir, group)
					f := stateDirVerdict(dir, layout)
					if (err != nil) != (f.Severity == sevHigh) {
						t.Errorf("mode %v uid %d gid %d, layout %d: store says %v, doctor %s (%s)", mode, uid, g, layout, err, f.Severity, f.Problem)
					}
					var ce *filestore.CheckError
					if errors.As(err, &ce) && (!strings.HasPrefix(f.Problem, ce.Problem) || f.Fix != ce.Fix) {
						t.Errorf("mode %v uid %d gid %d, layout %d: doctor %q, fix %q; store %q, fix %q", mode, uid, g, layout, f.Problem, f.Fix, ce.Problem, ce.Fix)
					}
				}
			}
		}
	}
}

// A block's SetEnv line is one value a variable, as sshd -T prints it.
func TestOverlaySetEnv(t *testing.T) {
	cfg := parseSSHDConfigData("c", []byte("Match Group g\n\tSetEnv A=1 \"B=x y\"\n\tSetEnv C=3\n"))
	e := overlay(effective{"setenv": {"Z=9"}}, cfg.Blocks[0])
	if !slices.Equal(e["setenv"], []string{"A=1", "B=x y"}) {
		t.Errorf("setenv %q, want the block's first line, one value a variable", e["setenv"])
	}
}

// A Match Group of "!" patterns alone applies to nobody, as in sshd: no
// connection is laid over the default for it.
func TestProbesGroupNegationsAlone(t *testing.T) {
	cfg := parseSSHDConfigData("c", []byte("Match Group !wheel\n\tForceCommand none\n"))
	list, _, unsolved := probes(cfg, testDir, nil, nil, "22")
	for _, p := range list {
		if p.Synthetic || p.Origin != nil {
			t.Errorf("probe %s made for a block that matches nobody", p.label())
		}
	}
	if len(unsolved) != 1 || !unsolved[0].None {
		t.Errorf("unsolved %+v, want the block, matching nothing", unsolved)
	}
}
