package privilege

import (
	"fmt"
	"os"
	"strings"
)

// EmptyEnv is the first thing a privileged process does, before it reads a
// flag: caller is the environment the process started with (the session
// gets it, and nothing else does), and the process's own is emptied, so
// that no library reads what the caller set: the database driver's PG*
// variables and its HOME-relative files, SSL_CERT_FILE, proxies, resolver
// options, TZ.
//
// Emptying it also undoes a GODEBUG the caller set: the Go runtime reparses
// its debug settings, and the TLS, X.509, HTTP and resolver settings fall
// back to the build's defaults. Two settings are read once, at start, and
// stay: fips140 and failfipscast. A privileged process refuses to run with
// either in the caller's GODEBUG.
//
// Unprivileged, it does nothing. Proven by TestEmptyEnvInSetgidBinary.
func EmptyEnv(caller []string) error {
	if !Privileged() {
		return nil
	}
	os.Clearenv()
	if key := fixedAtStart(caller); key != "" {
		return fmt.Errorf("GODEBUG sets %s, which Go applies before logingate starts and cannot undo; "+
			"logingate will not run with it while it holds the logingate group", key)
	}
	return nil
}

// fixedAtStart returns the first GODEBUG key in env that the standard
// library reads once, before main, and that emptying the environment cannot
// undo; "" if there is none.
func fixedAtStart(env []string) string {
	for _, kv := range env {
		v, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			continue
		}
		for _, setting := range strings.Split(v, ",") {
			key, _, _ := strings.Cut(setting, "=")
			if key = strings.TrimSpace(key); key == "fips140" || key == "failfipscast" {
				return key
			}
		}
	}
	return ""
}
