package debpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// lifecycle: install on a host without the logingate group, check what
// the package did, enroll, log in through sshd, upgrade, remove, reinstall
// and purge, as an operator would.
func lifecycle(t *testing.T, old, newer, newVersion string) {
	r := newRoot(t)
	outer := t // the user's key and sshd outlive the step that makes them
	var alice *user
	var s *sshd

	step(t, "install", func(t *testing.T) {
		// The host in the root has no logingate group yet: postinst makes it.
		r.sh(t, "if getent group logingate >/dev/null; then groupdel logingate; fi")
		before := r.sh(t, "ls -A /etc/ssh/sshd_config.d/; md5sum /etc/ssh/sshd_config /etc/pam.d/sshd")
		out := r.aptInstall(t, old)
		t.Logf("apt-get install:\n%s", out)
		for _, want := range []string{"logingate enroll --user NAME", "logingate doctor", "cp " + dropinSrc + " /etc/ssh/sshd_config.d/"} {
			if !strings.Contains(out, want) {
				t.Errorf("install printed no next step %q", want)
			}
		}
		if after := r.sh(t, "ls -A /etc/ssh/sshd_config.d/; md5sum /etc/ssh/sshd_config /etc/pam.d/sshd"); after != before {
			t.Errorf("installing changed sshd's configuration:\nbefore %s\nafter %s", before, after)
		}
		if gid := r.sh(t, "getent group logingate | cut -d: -f3"); gid == "" || atoi(t, gid) >= 1000 {
			t.Errorf("logingate group %q: want a system group", gid)
		}
		got := r.sh(t, "stat -c '%n %U:%G %a' "+binPath+" "+stateDir+"; dpkg-statoverride --list "+binPath+" || true; dpkg-query -W -f='${Conffiles}\\n' logingate")
		for _, want := range []string{binPath + " root:logingate 2755", stateDir + " root:logingate 770", "root logingate 2755 " + binPath, " " + confPath + " "} {
			if !strings.Contains(got, want) {
				t.Errorf("after install, missing %q in:\n%s", want, got)
			}
		}
		t.Logf("installed files:\n%s", r.sh(t, "dpkg -L logingate | while read -r p; do [ -d \"$p\" ] || stat -c '%A %U:%G %n' \"$p\"; done; stat -c '%A %U:%G %n' "+stateDir))
	})

	step(t, "postinst twice changes nothing", func(t *testing.T) {
		before := r.snapshot(t)
		r.run(t, "/var/lib/dpkg/info/logingate.postinst", "configure", "")
		r.run(t, "/var/lib/dpkg/info/logingate.postinst", "configure", "")
		r.aptInstall(t, old) // the same version again: apt reinstalls nothing
		r.run(t, "dpkg", "-i", "/tmp/"+filepath.Base(old))
		if after := r.snapshot(t); after != before {
			t.Errorf("postinst run again changed the host:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	step(t, "doctor finds nothing wrong with the package's files", func(t *testing.T) {
		rep := r.doctor(t)
		for _, f := range rep.Findings {
			t.Logf("doctor: %s %s %s", f.Severity, f.ID, f.Setting)
			if f.ID == "forcecommand-missing" || f.Severity == "info" {
				continue // the drop-in is not enabled yet: expected; info is no fault
			}
			if strings.HasPrefix(f.ID, "binary") || strings.HasPrefix(f.ID, "config") || strings.HasPrefix(f.ID, "state") ||
				mentions(f.Setting, binPath, "/etc/logingate", stateDir) {
				t.Errorf("doctor finding about the package's own files: %+v", f)
			}
		}
		if !hasFinding(rep, "forcecommand-missing") {
			t.Errorf("doctor does not report the gate as not enabled")
		}
	})

	step(t, "enroll, enable, log in", func(t *testing.T) {
		alice = r.addUser(outer, "alice")
		r.enroll(t, binPath, alice)
		r.run(t, "cp", dropinSrc, dropinPath)
		s = r.startSSHD(outer)
		groups := s.login(t, alice, alice.totp(t))
		if strings.Contains(groups, "logingate") {
			t.Errorf("the session kept the logingate group: %q", groups)
		}
		if out, code := s.headless(t, alice); code == 0 || strings.Contains(out, "HEADLESS-OK") {
			t.Errorf("a session without a terminal got past the gate (headless: deny): exit %d %q", code, out)
		}
		if rep := r.doctor(t); hasFinding(rep, "forcecommand-missing") {
			t.Errorf("doctor still reports the gate not enabled after enabling the drop-in")
		}
	})

	hostileSuite(t, r)

	var conf, state string
	step(t, "local edit and trusted window", func(t *testing.T) {
		r.sh(t, "sed -i 's/^headless: deny /headless: trusted/' "+confPath+" && grep -q '^headless: trusted' "+confPath)
		s.login(t, alice, alice.backupCode())
		if out, code := s.headless(t, alice); code != 0 || !strings.Contains(out, "HEADLESS-OK") {
			t.Fatalf("no trusted window after an interactive login: exit %d %q", code, out)
		}
		conf, state = r.readFile(t, confPath), r.stateSnapshot(t)
	})

	step(t, "upgrade keeps state, edits, windows, group and mode", func(t *testing.T) {
		// Unpacked, not yet configured, as during a long apt run: logins
		// go on, and the new binary must already be setgid (dpkg applies
		// the override as it unpacks; a chmod in postinst would come late).
		r.copyIn(t, newer, "/tmp/newer.deb")
		r.run(t, "dpkg", "--unpack", "/tmp/newer.deb")
		if got := r.sh(t, "stat -c '%U:%G %a' "+binPath); got != "root:logingate 2755\n" {
			t.Errorf("binary unpacked by the upgrade, before postinst: %q, want root:logingate 2755", got)
		}
		r.run(t, "dpkg", "--configure", "logingate")
		if v := r.run(t, "dpkg-query", "-W", "-f=${Version}", "logingate"); v != newVersion {
			t.Fatalf("installed version %q after upgrade, want %q", v, newVersion)
		}
		if v := r.run(t, binPath, "-v"); !strings.Contains(v, newVersion) {
			t.Errorf("%s -v says %q after upgrade, want %s", binPath, v, newVersion)
		}
		if got := r.sh(t, "stat -c '%U:%G %a' "+binPath); got != "root:logingate 2755\n" {
			t.Errorf("binary after upgrade: %q, want root:logingate 2755", got)
		}
		if got := r.readFile(t, confPath); got != conf {
			t.Errorf("the locally edited conffile changed on upgrade")
		}
		if got := r.stateSnapshot(t); got != state {
			t.Errorf("state changed on upgrade:\nbefore:\n%s\nafter:\n%s", state, got)
		}
		if out, code := s.headless(t, alice); code != 0 || !strings.Contains(out, "HEADLESS-OK") {
			t.Errorf("trusted window gone after upgrade: exit %d %q", code, out)
		}
		state = r.stateSnapshot(t)
	})

	step(t, "remove refuses while sshd runs the gate", func(t *testing.T) {
		out, code := r.try(t, nil, "dpkg", "-r", "logingate")
		if code == 0 {
			t.Fatalf("dpkg -r removed the gate sshd runs:\n%s", out)
		}
		if !strings.Contains(out, "logingate: error: sshd runs "+binPath) || !strings.Contains(out, "LOGINGATE_FORCE_REMOVE=yes") {
			t.Errorf("refusal does not say why or how to force it:\n%s", out)
		}
		// dpkg leaves the selection at "deinstall"; what counts is that it
		// is still installed, unchanged.
		if st := r.run(t, "dpkg-query", "-W", "-f=${Status} ${Version}", "logingate"); !strings.HasSuffix(st, " ok installed "+newVersion) {
			t.Errorf("after a refused removal the package is %q", st)
		}
		if got := r.sh(t, "stat -c '%U:%G %a' "+binPath); got != "root:logingate 2755\n" {
			t.Errorf("binary after a refused removal: %q", got)
		}
		s.login(t, alice, alice.backupCode()) // still guarded, still works
		state = r.stateSnapshot(t)
	})

	step(t, "remove refuses for a ForceCommand inside a Match block", func(t *testing.T) {
		// sshd -T without -C shows no Match block: prerm reads the files too.
		drop := r.readFile(t, dropinPath)
		r.writeFile(t, dropinPath, []byte("Match User alice\n\tForceCommand "+binPath+"\n"), 0o644)
		out, code := r.try(t, nil, "dpkg", "-r", "logingate")
		r.writeFile(t, dropinPath, []byte(drop), 0o644)
		if code == 0 || !strings.Contains(out, "logingate: error: sshd runs "+binPath) {
			t.Fatalf("dpkg -r with the gate in a Match block: exit %d\n%s", code, out)
		}
	})

	step(t, "forced remove leaves config and state", func(t *testing.T) {
		out, code := r.try(t, []string{"LOGINGATE_FORCE_REMOVE=yes"}, "dpkg", "-r", "logingate")
		if code != 0 {
			t.Fatalf("forced dpkg -r exited %d:\n%s", code, out)
		}
		if _, err := os.Stat(r.path(binPath)); !os.IsNotExist(err) {
			t.Errorf("%s still there after remove (err %v)", binPath, err)
		}
		if got := r.readFile(t, confPath); got != conf {
			t.Errorf("remove changed the config")
		}
		if got := r.stateSnapshot(t); got != state {
			t.Errorf("remove changed the state:\nbefore:\n%s\nafter:\n%s", state, got)
		}
		if out, code := s.headless(t, alice); code == 0 || strings.Contains(out, "HEADLESS-OK") {
			t.Errorf("with the gate removed a session still opened (must fail closed): %q", out)
		}
	})

	step(t, "reinstall finds users enrolled", func(t *testing.T) {
		r.aptInstall(t, newer)
		st := r.run(t, binPath, "status", "--user", "alice", "--json")
		if !strings.Contains(st, `"enrolled": true`) && !strings.Contains(st, `"enrolled":true`) {
			t.Errorf("alice not enrolled after reinstall: %s", st)
		}
		s.login(t, alice, alice.backupCode())
	})

	step(t, "purge removes config and override, keeps second factors", func(t *testing.T) {
		r.run(t, "rm", dropinPath)
		s.stop()
		state = r.stateSnapshot(t)
		out, code := r.try(t, nil, "dpkg", "-P", "logingate")
		if code != 0 {
			t.Fatalf("dpkg -P exited %d:\n%s", code, out)
		}
		if !strings.Contains(out, "logingate: warning: kept "+stateDir) {
			t.Errorf("purge does not say it kept the state:\n%s", out)
		}
		if _, err := os.Stat(r.path(confPath)); !os.IsNotExist(err) {
			t.Errorf("%s survived purge (err %v)", confPath, err)
		}
		if out, code := r.try(t, nil, "dpkg-statoverride", "--list", binPath); code == 0 {
			t.Errorf("the override survived purge: %s", out)
		}
		if got := r.stateSnapshot(t); got != state {
			t.Errorf("purge changed the state:\nbefore:\n%s\nafter:\n%s", state, got)
		}
		if _, code := r.try(t, nil, "dpkg-query", "-W", "logingate"); code == 0 {
			if st := r.run(t, "dpkg-query", "-W", "-f=${Status}", "logingate"); st != "unknown ok not-installed" {
				t.Errorf("after purge the package is %q", st)
			}
		}
	})

	step(t, "purge with LOGINGATE_PURGE_STATE=yes deletes the state", func(t *testing.T) {
		r.aptInstall(t, newer)
		if st := r.run(t, binPath, "status", "--user", "alice", "--json"); !strings.Contains(st, "true") {
			t.Errorf("alice not enrolled after install over kept state: %s", st)
		}
		if out, code := r.try(t, []string{"LOGINGATE_PURGE_STATE=yes"}, "dpkg", "-P", "logingate"); code != 0 {
			t.Fatalf("dpkg -P exited %d:\n%s", code, out)
		}
		if _, err := os.Stat(r.path(stateDir)); !os.IsNotExist(err) {
			t.Errorf("%s survived a purge with LOGINGATE_PURGE_STATE=yes (err %v)", stateDir, err)
		}
	})
}

// hostileSuite runs the hostile-user suite (internal/hostile) against the
// installed package: LOGINGATE_HOSTILE_BIN names the package's setgid
// binary, so the suite attacks the layout operators get.
func hostileSuite(t *testing.T, r *root) {
	t.Run("hostile-user suite against the package", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "hostile.test")
		if out, err := exec.Command("go", "test", "-c", "-o", bin, "../hostile").CombinedOutput(); err != nil {
			t.Fatalf("go test -c ./internal/hostile: %v\n%s", err, out)
		}
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		r.writeFile(t, "/tmp/hostile.test", b, 0o755)
		out, code := r.try(t, []string{"LOGINGATE_HOSTILE_BIN=" + binPath, "CI=" + os.Getenv("CI")}, "/tmp/hostile.test", "-test.v")
		t.Logf("hostile suite in the package root:\n%s", out)
		if code != 0 {
			t.Errorf("hostile-user suite failed against the package (exit %d)", code)
		}
	})
}
