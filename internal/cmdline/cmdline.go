// Package cmdline owns how the gate reads its global flags, login_duo's
// getopt-style -c FILE (or -cFILE), -d, -f USER, -h HOST, -v and "--". The
// gate (package cli) and doctor, which must know which config a
// ForceCommand's gate loads, both parse with Parse, so that they cannot
// disagree about a command line.
package cmdline

// Globals are the flags before any subcommand or command.
type Globals struct {
	Config   string // -c; the last one wins
	Explicit bool   // -c was given
	Debug    bool   // -d
	ForUser  string // -f
	Host     string // -h
	Version  bool   // -v: parsing stopped there
}

// UsageError is a command line the gate refuses.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Parse reads the global flags from args (without the program name). rest
// is what follows them; ended says a "--" ended them, so rest[0] is a
// command, never a subcommand. It stops at -v, the first word that is not a
// flag, and "-" alone. An unknown flag, or one with no value, is a
// *UsageError.
func Parse(args []string) (g Globals, rest []string, ended bool, err error) {
	i := 0
	value := func(flag string) (string, error) {
		a := args[i]
		if len(a) > 2 {
			return a[2:], nil
		}
		if i+1 >= len(args) {
			return "", &UsageError{"flag " + flag + " needs a value"}
		}
		i++
		return args[i], nil
	}
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return g, args[i+1:], true, nil
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		switch a {
		case "-d":
			g.Debug = true
			continue
		case "-v":
			g.Version = true
			return g, nil, false, nil
		}
		flag := a[:2]
		v := map[string]*string{"-c": &g.Config, "-f": &g.ForUser, "-h": &g.Host}[flag]
		if v == nil {
			return g, nil, false, &UsageError{"unknown flag " + a}
		}
		if *v, err = value(flag); err != nil {
			return g, nil, false, err
		}
		g.Explicit = g.Explicit || flag == "-c"
	}
	return g, args[i:], false, nil
}
