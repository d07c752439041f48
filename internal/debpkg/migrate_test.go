package debpkg

import (
	"strings"
	"testing"
)

// migrateLayout installs the package over a host that ran an older,
// unprivileged logingate: a plain binary, the state_dir root:root 1733,
// each user's state in a directory of their own. The install moves it into
// the protected layout and nothing is lost.
func migrateLayout(t *testing.T, deb string) {
	r := newRoot(t)
	outer := t
	const oldBin = "/usr/local/bin/logingate"
	var before, status string
	step(t, "an unprivileged layout", func(t *testing.T) {
		r.sh(t, "if getent group logingate >/dev/null; then groupdel logingate; fi")
		// The old gate: the same program without the setgid bit, as a
		// make install without privilege separation left it.
		r.copyIn(t, deb, "/tmp/old.deb")
		r.sh(t, "mkdir -p /tmp/x && dpkg-deb -x /tmp/old.deb /tmp/x && install -m 0755 /tmp/x/usr/bin/logingate "+oldBin+
			" && install -D -m 0644 /tmp/x/etc/logingate/logingate.yaml "+confPath+" && install -d -m 1733 "+stateDir)
		bob := r.addUser(outer, "bob")
		r.enroll(t, oldBin, bob)
		if got := r.sh(t, "stat -c '%U:%G %a' "+stateDir+"/bob"); got != "bob:bob 700\n" {
			t.Fatalf("old layout: bob's state dir is %q, want bob:bob 700", got)
		}
		before = r.sh(t, "cd "+stateDir+" && find . -type f ! -name '.*' -print0 | sort -z | xargs -0 md5sum; find . -mindepth 1 ! -name '.*' -printf '%p %u:%g %m\\n' | sort")
		status = r.run(t, oldBin, "status", "--user", "bob", "--json")
	})
	step(t, "install migrates it", func(t *testing.T) {
		out := r.aptInstall(t, deb)
		if !strings.Contains(out, "migrating") || !strings.Contains(out, "now has the protected layout") {
			t.Errorf("install did not say it migrated the state:\n%s", out)
		}
		if got := r.sh(t, "stat -c '%U:%G %a' "+stateDir); got != "root:logingate 770\n" {
			t.Errorf("state dir after install: %q, want root:logingate 770", got)
		}
		after := r.sh(t, "cd "+stateDir+" && find . -type f ! -name '.*' -print0 | sort -z | xargs -0 md5sum; find . -mindepth 1 ! -name '.*' -printf '%p %u:%g %m\\n' | sort")
		if after != before {
			t.Errorf("migration changed users' state:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if got := r.run(t, binPath, "status", "--user", "bob", "--json"); got != status {
			t.Errorf("bob's status after migration:\n%s\nbefore:\n%s", got, status)
		}
		// Installing again finds the protected layout and leaves it.
		again := r.aptInstall(t, deb)
		if strings.Contains(again, "migrating") {
			t.Errorf("a second install migrated again:\n%s", again)
		}
	})
}
