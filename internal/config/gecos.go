package config

import (
	"bufio"
	"bytes"
	"strings"
)

// DuoUsername is the name a login asks Duo about, as login_duo picks it:
// the -f name when given, else with send_gecos the configured field of the
// user's GECOS, else the login name. fellBack reports a GECOS without that
// field (login_duo then uses the login name too), for a warning.
func (d *Duo) DuoUsername(login, gecos, forUser string) (name string, fellBack bool) {
	switch {
	case forUser != "":
		return forUser, false
	case d == nil || !d.SendGECOS:
		return login, false
	}
	if d.GECOSPos == 0 {
		if gecos == "" {
			return login, true
		}
		return gecos, false
	}
	fields := strings.Split(gecos, d.gecosDelim())
	if d.GECOSPos > len(fields) || fields[d.GECOSPos-1] == "" {
		return login, true
	}
	return fields[d.GECOSPos-1], false
}

// gecosDelim is GECOSDelim, or login_duo's default.
func (d *Duo) gecosDelim() string {
	if d.GECOSDelim == "" {
		return ","
	}
	return d.GECOSDelim
}

// chfnFields are the GECOS subfields chfn(1) edits, in order, with the
// CHFN_RESTRICT letter that lets users change each: full name, room, work
// phone, home phone. Later fields ("other") are root's alone.
const chfnFields = "frwh"

// GECOSUserChangeable reports whether users may change, with chfn, the
// part of their GECOS that send_gecos sends as their Duo username: then
// they choose their own Duo identity. loginDefs is /etc/login.defs
// (CHFN_RESTRICT: letters of chfnFields, "yes" = "rwh", "no" = "frwh",
// unset = none, as login.defs(5) says).
func (d *Duo) GECOSUserChangeable(loginDefs []byte) bool {
	if d == nil || !d.SendGECOS {
		return false
	}
	allowed := chfnRestrict(loginDefs)
	if allowed == "" {
		return false
	}
	if d.GECOSPos == 0 || d.gecosDelim() != "," {
		// The whole field, or one split at another character than chfn's
		// own: any field a user may edit can shape it.
		return true
	}
	if d.GECOSPos > len(chfnFields) {
		return false
	}
	return strings.IndexByte(allowed, chfnFields[d.GECOSPos-1]) >= 0
}

// chfnRestrict returns the CHFN_RESTRICT letters of login.defs, expanded.
func chfnRestrict(loginDefs []byte) string {
	value := ""
	sc := bufio.NewScanner(bytes.NewReader(loginDefs))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "CHFN_RESTRICT" {
			value = f[1]
		}
	}
	switch value {
	case "yes":
		return "rwh"
	case "no":
		return chfnFields
	}
	out := ""
	for _, c := range value {
		if strings.ContainsRune(chfnFields, c) {
			out += string(c)
		}
	}
	return out
}
