// Command duobare is the row a Duo push login is compared with in
// `make bench`: a bare program on github.com/duosecurity/duo_api_golang that
// makes the calls the gate makes for `headless: push` (preauth, auth with
// factor push and async, one auth_status poll) and then execs the shell, as
// the gate does. It checks each answer only as far as it must to go on.
//
//	duobare CONFIG SHELL
//
// CONFIG is a file of lines `host H`, `ikey I`, `skey S`, `cafile F`,
// `user U` (the secret key stays out of the process's arguments).
package main

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	duoapi "github.com/duosecurity/duo_api_golang"
	"github.com/duosecurity/duo_api_golang/authapi"
)

func main() {
	if len(os.Args) != 3 {
		die("usage: duobare CONFIG SHELL")
	}
	raw, err := os.ReadFile(os.Args[1])
	check(err)
	cfg := map[string]string{}
	for _, l := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			cfg[k] = v
		}
	}
	pem, err := os.ReadFile(cfg["cafile"])
	check(err)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		die("no certificate in " + cfg["cafile"])
	}
	api := authapi.NewAuthApi(*duoapi.NewDuoApi(cfg["ikey"], cfg["skey"], cfg["host"], "duobare",
		duoapi.SetTransport(func(t *http.Transport) { t.TLSClientConfig.RootCAs = roots })))

	pre, err := api.Preauth(authapi.PreauthUsername(cfg["user"]))
	check(err)
	if pre.Stat != "OK" || pre.Response.Result != "auth" {
		die(fmt.Sprintf("preauth: %s %s", pre.Stat, pre.Response.Result))
	}
	auth, err := api.Auth("push", authapi.AuthUsername(cfg["user"]), authapi.AuthDevice("auto"), authapi.AuthAsync())
	check(err)
	if auth.Stat != "OK" || auth.Response.Txid == "" {
		die("auth: " + auth.Stat)
	}
	st, err := api.AuthStatus(auth.Response.Txid)
	check(err)
	if st.Stat != "OK" || st.Response.Result != "allow" {
		die(fmt.Sprintf("auth_status: %s %s", st.Stat, st.Response.Result))
	}
	shell := os.Args[2]
	check(syscall.Exec(shell, []string{filepath.Base(shell), "-c", "/bin/true"}, os.Environ()))
}

func check(err error) {
	if err != nil {
		die(err.Error())
	}
}

func die(msg string) {
	fmt.Fprintln(os.Stderr, "duobare:", msg)
	os.Exit(2)
}
