package groups

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatches(t *testing.T) {
	tests := []struct {
		name   string
		lists  []string
		groups []string
		want   bool
	}{
		// login_duo's documented example: "users,!wheel,!*admin guests".
		{"duo doc: users", []string{"users,!wheel,!*admin guests"}, []string{"users"}, true},
		{"duo doc: users and wheel", []string{"users,!wheel,!*admin guests"}, []string{"users", "wheel"}, false},
		{"duo doc: users and sysadmin", []string{"users,!wheel,!*admin guests"}, []string{"sysadmin", "users"}, false},
		{"duo doc: guests and wheel, second list", []string{"users,!wheel,!*admin guests"}, []string{"wheel", "guests"}, true},
		{"duo doc: neither", []string{"users,!wheel,!*admin guests"}, []string{"staff"}, false},

		{"star matches everyone", []string{"*"}, []string{"anything"}, true},
		{"star matches an empty name", []string{"*"}, []string{""}, true},
		{"users,!wheel: users only", []string{"users,!wheel"}, []string{"users"}, true},
		{"users,!wheel: negation wins in any order", []string{"!wheel,users"}, []string{"wheel", "users"}, false},
		{"users,!wheel: wheel only", []string{"users,!wheel"}, []string{"wheel"}, false},
		{"!wheel alone matches no one", []string{"!wheel"}, []string{"users"}, false},
		{"!wheel alone, not even wheel", []string{"!wheel"}, []string{"wheel"}, false},
		{"question mark: one character", []string{"adm?n"}, []string{"admin"}, true},
		{"question mark: not zero", []string{"adm?n"}, []string{"admn"}, false},
		{"question mark: not two", []string{"adm?n"}, []string{"admiin"}, false},
		{"question mark: one UTF-8 character", []string{"caf?"}, []string{"café"}, true},
		{"bracket is literal", []string{"[ab]"}, []string{"a"}, false},
		{"bracket matches itself", []string{"[ab]"}, []string{"[ab]"}, true},
		{"backslash is literal", []string{`a\*`}, []string{`a\bc`}, true},
		{"slash is not special", []string{"*"}, []string{"dom/users"}, true},
		{"case-sensitive", []string{"wheel"}, []string{"Wheel"}, false},
		{"whole name, not substring", []string{"adm"}, []string{"admin"}, false},
		{"prefix star", []string{"*admin"}, []string{"sysadmin"}, true},
		{"middle star", []string{"a*n"}, []string{"admin"}, true},
		{"middle star, no match", []string{"a*n"}, []string{"admins"}, false},
		{"several stars backtrack", []string{"*a*b*c"}, []string{"xxaxxbxxbxxc"}, true},
		{"several stars fail", []string{"*a*b*c"}, []string{"xxaxxbxxbxxd"}, false},
		{"several config items OR-ed", []string{"wheel", "staff"}, []string{"staff"}, true},
		{"several lists in one item", []string{"wheel staff"}, []string{"staff"}, true},
		{"tab separates lists too", []string{"wheel\tstaff"}, []string{"staff"}, true},
		{"one list vetoed, the other matches", []string{"users,!wheel", "wheel"}, []string{"users", "wheel"}, true},
		{"space in a group name via ?", []string{"domain?users"}, []string{"domain users"}, true},
		{"negated wildcard", []string{"*,!svc-*"}, []string{"svc-backup"}, false},
		{"negated wildcard, other user", []string{"*,!svc-*"}, []string{"alice"}, true},

		// Fail closed: no groups at all means the lookup went wrong.
		{"no groups fails closed", []string{"wheel"}, nil, true},
		{"no groups fails closed even for only-negated", []string{"!wheel"}, []string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.lists)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.lists, err)
			}
			if got := p.Matches(tt.groups); got != tt.want {
				t.Errorf("Parse(%q).Matches(%q) = %v, want %v", tt.lists, tt.groups, got, tt.want)
			}
		})
	}
}

func TestNilPolicyMatchesEveryone(t *testing.T) {
	var p *Policy
	if !p.Matches([]string{"users"}) {
		t.Error("a nil Policy must match (fail closed)")
	}
	if !(&Policy{}).Matches([]string{"users"}) {
		t.Error("a zero Policy must match (fail closed)")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		lists []string
		want  string // part of the message
	}{
		{"no lists", nil, "no pattern-lists"},
		{"empty list", []string{}, "no pattern-lists"},
		{"empty string", []string{""}, "empty pattern-list"},
		{"only spaces", []string{"  \t "}, "empty pattern-list"},
		{"lone bang", []string{"!"}, `"!" negates nothing`},
		{"lone bang in a list", []string{"users,!"}, `"!" negates nothing`},
		{"double comma", []string{"users,,wheel"}, "empty pattern"},
		{"leading comma", []string{",users"}, "empty pattern"},
		{"trailing comma", []string{"users,"}, "empty pattern"},
		{"space after comma", []string{"users, !wheel"}, `pattern-list "users,": empty pattern`},
		{"double bang", []string{"!!wheel"}, "double negation"},
		{"error in a later item", []string{"*", "ok bad,"}, `"bad,"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.lists)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.lists, p)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error %q does not contain %q", tt.lists, err, tt.want)
			}
		})
	}
}

func TestOnlyNegated(t *testing.T) {
	p, err := Parse([]string{"users,!wheel !wheel,!*admin", "!staff", "*"})
	if err != nil {
		t.Fatal(err)
	}
	got := p.OnlyNegated()
	want := []string{"!wheel,!*admin", "!staff"}
	if !slices.Equal(got, want) {
		t.Errorf("OnlyNegated() = %q, want %q", got, want)
	}
	p, err = Parse([]string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.OnlyNegated(); len(got) != 0 {
		t.Errorf("OnlyNegated() of \"*\" = %q, want none", got)
	}
}

func TestListsAndString(t *testing.T) {
	p, err := Parse([]string{"users,!wheel  *admin", "guests"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.texts(), []string{"users,!wheel", "*admin", "guests"}; !slices.Equal(got, want) {
		t.Errorf("texts() = %q, want %q", got, want)
	}
	if got, want := p.String(), "users,!wheel *admin guests"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// patternRegexp is an independent reference for match: the pattern as an
// anchored regular expression.
func patternRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"*", ""}, {"adm?n", "admin"}, {"*a*b*c", "xxaxxbxxbxxc"}, {"[ab]", "[ab]"},
		{"caf?", "café"}, {"**?*", "é"}, {"a*", "a"}, {"?", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(name) {
			t.Skip("the regexp reference needs valid UTF-8")
		}
		if len(pattern) > 64 || len(name) > 256 {
			t.Skip("long inputs add nothing")
		}
		got := match(pattern, name)
		want := patternRegexp(pattern).MatchString(name)
		if got != want {
			t.Errorf("Match(%q, %q) = %v, regexp reference says %v", pattern, name, got, want)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"*", "users,!wheel", "!wheel", "adm?n", "[", "users,!wheel *admin\nguests",
		"", "!", ",", "a,,b", "!!x", " \t ",
	} {
		f.Add(s, "users\nwheel")
	}
	f.Fuzz(func(t *testing.T, config, userGroups string) {
		items := strings.Split(config, "\n")
		p, err := Parse(items)
		if err != nil {
			if p != nil {
				t.Fatalf("Parse(%q) returned a policy with error %v", items, err)
			}
			return
		}
		gs := strings.Split(userGroups, "\n")
		got := p.Matches(gs)
		if p.MatchesEveryone() && !got {
			t.Fatalf("Parse(%q) claims everyone but does not match %q", items, gs)
		}

		// The INI form round-trips.
		q, err := Parse([]string{p.String()})
		if err != nil {
			t.Fatalf("Parse(String()) of %q: %v", items, err)
		}
		if !slices.Equal(p.texts(), q.texts()) || q.Matches(gs) != got {
			t.Fatalf("%q does not round-trip through %q", items, p.String())
		}
		// Only-negated lists never let anyone match on their own.
		for _, l := range p.OnlyNegated() {
			alone, err := Parse([]string{l})
			if err != nil {
				t.Fatal(err)
			}
			if len(gs) > 0 && alone.Matches(gs) {
				t.Fatalf("only-negated list %q matched %q", l, gs)
			}
		}
	})
}

func BenchmarkMatches(b *testing.B) {
	p, err := Parse([]string{"users,!wheel,!*admin guests", "dev-*"})
	if err != nil {
		b.Fatal(err)
	}
	gs := []string{"alice", "staff", "audio", "video", "plugdev", "dev-backend", "docker"}
	for b.Loop() {
		if !p.Matches(gs) {
			b.Fatal("no match")
		}
	}
}

func TestMatchesEveryone(t *testing.T) {
	tests := []struct {
		lists []string
		want  bool
	}{
		{[]string{"*"}, true},
		{[]string{"**"}, true},
		{[]string{"wheel", "staff *"}, true},
		{[]string{"wheel,*"}, true},
		{[]string{"*,!wheel"}, false},
		{[]string{"*?"}, false},
		{[]string{"wheel"}, false},
		{[]string{"!wheel"}, false},
	}
	for _, tt := range tests {
		p, err := Parse(tt.lists)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.MatchesEveryone(); got != tt.want {
			t.Errorf("Parse(%q).MatchesEveryone() = %v, want %v", tt.lists, got, tt.want)
		}
		// Whenever it claims everyone, Matches must agree for odd group sets.
		if tt.want {
			for _, gs := range [][]string{{""}, {"wheel"}, {"x", "wheel", "root"}} {
				if !p.Matches(gs) {
					t.Errorf("Parse(%q) claims everyone but does not match %q", tt.lists, gs)
				}
			}
		}
	}
	var nilPolicy *Policy
	if !nilPolicy.MatchesEveryone() {
		t.Error("a nil Policy must claim everyone (fail closed)")
	}
}
