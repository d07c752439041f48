package config

import "testing"

// send_gecos picks the Duo username as login_duo does; -f wins over it.
func TestDuoUsername(t *testing.T) {
	tests := []struct {
		name          string
		d             *Duo
		gecos, forArg string
		want          string
		fellBack      bool
	}{
		{name: "no Duo", d: nil, gecos: "x", want: "alice"},
		{name: "login name", d: &Duo{}, gecos: "Alice A,,,", want: "alice"},
		{name: "-f", d: &Duo{SendGECOS: true}, gecos: "aa1234", forArg: "bob", want: "bob"},
		{name: "whole GECOS", d: &Duo{SendGECOS: true, GECOSDelim: ","}, gecos: "aa1234", want: "aa1234"},
		{name: "field 2", d: &Duo{SendGECOS: true, GECOSPos: 2, GECOSDelim: ","}, gecos: "Alice A,aa1234,,", want: "aa1234"},
		{name: "other delimiter", d: &Duo{SendGECOS: true, GECOSPos: 3, GECOSDelim: "/"}, gecos: "x/y/duo.alice/z", want: "duo.alice"},
		{name: "field missing", d: &Duo{SendGECOS: true, GECOSPos: 5, GECOSDelim: ","}, gecos: "Alice,1,2", want: "alice", fellBack: true},
		{name: "field empty", d: &Duo{SendGECOS: true, GECOSPos: 2, GECOSDelim: ","}, gecos: "Alice,,2", want: "alice", fellBack: true},
		{name: "empty GECOS", d: &Duo{SendGECOS: true}, gecos: "", want: "alice", fellBack: true},
	}
	for _, tt := range tests {
		got, fb := tt.d.DuoUsername("alice", tt.gecos, tt.forArg)
		if got != tt.want || fb != tt.fellBack {
			t.Errorf("%s: %q (fell back %t), want %q (%t)", tt.name, got, fb, tt.want, tt.fellBack)
		}
	}
}

// The field send_gecos uses is one users may change with chfn exactly when
// CHFN_RESTRICT in login.defs lets them change that field.
func TestGECOSUserChangeable(t *testing.T) {
	tests := []struct {
		defs  string
		d     Duo
		wants bool
	}{
		{defs: "", d: Duo{SendGECOS: true}, wants: false},                   // unset: root only
		{defs: "CHFN_RESTRICT rwh\n", d: Duo{SendGECOS: true}, wants: true}, // whole field includes room
		{defs: "CHFN_RESTRICT rwh\n", d: Duo{SendGECOS: true, GECOSPos: 1, GECOSDelim: ","}, wants: false},
		{defs: "CHFN_RESTRICT rwh\n", d: Duo{SendGECOS: true, GECOSPos: 2, GECOSDelim: ","}, wants: true},
		{defs: "CHFN_RESTRICT yes\n", d: Duo{SendGECOS: true, GECOSPos: 4, GECOSDelim: ","}, wants: true},
		{defs: "CHFN_RESTRICT no\n", d: Duo{SendGECOS: true, GECOSPos: 1, GECOSDelim: ","}, wants: true},
		{defs: "CHFN_RESTRICT f\n", d: Duo{SendGECOS: true, GECOSPos: 5, GECOSDelim: ","}, wants: false}, // "other": root's
		{defs: "CHFN_RESTRICT f\n", d: Duo{SendGECOS: true, GECOSPos: 5, GECOSDelim: "/"}, wants: true},  // split elsewhere
		{defs: "# CHFN_RESTRICT rwh\nCHFN_RESTRICT\t\tfrwh\n", d: Duo{SendGECOS: true, GECOSPos: 1, GECOSDelim: ","}, wants: true},
		{defs: "CHFN_RESTRICT rwh\n", d: Duo{GECOSPos: 2}, wants: false}, // send_gecos off
	}
	for _, tt := range tests {
		if got := tt.d.GECOSUserChangeable([]byte(tt.defs)); got != tt.wants {
			t.Errorf("login.defs %q, %+v: %t, want %t", tt.defs, tt.d, got, tt.wants)
		}
	}
}
