package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/logingate/logingate/internal/privilege"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Error is one problem with a config file. Its text is "PATH: KEY: message"
// for a key, "PATH: line N: message" for YAML syntax, "PATH: message" for the
// file as a whole; in a login_duo file, "PATH: line N: KEY: message" when
// the key has a line. Messages name keys and quote only enum values and
// group patterns, never other values, which may be secrets.
type Error struct {
	Path string // the config file, as given
	Key  string // full dotted key ("totp.digits"), or ""
	Line int    // 1-based line, when known
	Msg  string

	showLine bool // a login_duo file: print the line with the key
}

func (e *Error) Error() string {
	switch {
	case e.Key != "" && e.Line > 0 && e.showLine:
		return fmt.Sprintf("%s: line %d: %s: %s", e.Path, e.Line, e.Key, e.Msg)
	case e.Key != "":
		return e.Path + ": " + e.Key + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("%s: line %d: %s", e.Path, e.Line, e.Msg)
	default:
		return e.Path + ": " + e.Msg
	}
}

// maxProblems bounds how many problems one Load reports.
const maxProblems = 20

// leaves calls f with each error that err joins, depth first, or with err
// itself when it joins none.
func leaves(err error, f func(error)) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, err := range j.Unwrap() {
			leaves(err, f)
		}
		return
	}
	f(err)
}

// problems collects the errors of one load.
type problems struct {
	path string
	ini  bool // a login_duo file: errors show the line with the key
	errs []error
}

func (p *problems) add(key string, line int, format string, args ...any) {
	if len(p.errs) == maxProblems {
		p.errs = append(p.errs, &Error{Path: p.path, Msg: "too many problems; stopping here"})
	}
	if len(p.errs) > maxProblems {
		return
	}
	p.errs = append(p.errs, &Error{Path: p.path, Key: key, Line: line, Msg: fmt.Sprintf(format, args...), showLine: p.ini})
}

// has reports whether a problem with key has been added.
func (p *problems) has(key string) bool { return p.hasAt(key, 0) }

// hasAt reports whether a problem with key, or on line n > 0, has been
// added.
func (p *problems) hasAt(key string, n int) bool {
	return slices.ContainsFunc(p.errs, func(err error) bool {
		e, ok := err.(*Error)
		return ok && (e.Key == key || n > 0 && e.Line == n)
	})
}

func (p *problems) err() error {
	switch len(p.errs) {
	case 0:
		return nil
	case 1:
		return p.errs[0]
	}
	return errors.Join(p.errs...)
}

// Load reads, decodes and validates the config file at path: logingate's
// YAML, or a login_duo INI file (see isLoginDuo). hostname is the default
// totp.issuer. The file and the directories on its path must be safe from
// other users (see readChecked), and a file holding a secret must not be
// readable by them either; keys left out keep their defaults; anything
// unknown, mistyped or out of range is an error, and the caller must then
// deny every login.
//
// The path is trusted under privilege.For: Load's path is root's choice
// (the default, or root's own -c); LoadNamed is for a path the caller
// named. The files the config names are root's choice too (rootNamed).
func Load(path, hostname string) (*Config, error) {
	return load(path, hostname, privilege.For(false))
}

// LoadNamed is Load of a path the caller named with -c: under a privileged
// gate run by a non-root user, it must be absolute, root's along its whole
// length, and hold no symbolic link and no "..".
func LoadNamed(path, hostname string) (*Config, error) {
	return load(path, hostname, privilege.For(true))
}

// rootNamed is the rule for a file the config names (a secret file, a CA
// file): root's config chose it, so a link that config management made is
// followed through the same checks.
func rootNamed() privilege.Rule { return privilege.For(false) }

func load(path, hostname string, r privilege.Rule) (*Config, error) {
	data, meta, err := readChecked(path, loginDuoName(path), r)
	if err != nil {
		return nil, err
	}
	var cfg *Config
	if isLoginDuo(path, data) {
		cfg, err = parseLoginDuo(path, hostname, data)
	} else {
		cfg, err = parse(path, hostname, data)
	}
	if err != nil {
		return nil, err
	}
	if what := cfg.inlineSecrets(); what != "" {
		if msg := checkSecretMode(meta, what); msg != "" {
			if !cfg.DropIn {
				msg += " (or move it to a file named by duo.skey_file)"
			}
			return nil, &Error{Path: path, Msg: msg}
		}
	}
	if dsnHasPassword(cfg.Store.DSN) && cfg.Store.DSNFile == "" {
		if msg := checkSecretMode(meta, "store.dsn with a password"); msg != "" {
			return nil, &Error{Path: path, Msg: msg + " (or move the DSN to a file named by store.dsn_file)"}
		}
	}
	return cfg, nil
}

// inlineSecrets names the secrets written in the config file itself, or "".
func (c *Config) inlineSecrets() string {
	switch {
	case c.Duo == nil || c.Duo.SKeyFile != "":
		return ""
	case c.DropIn:
		return "skey"
	}
	return "duo.skey"
}

// parse is Load of a YAML config after the file has been read. The bytes
// are parsed once: the schema walk checks the node tree, and the same tree
// is what viper decodes.
func parse(path, hostname string, data []byte) (*Config, error) {
	p := &problems{path: path}
	root := p.parseYAML(data)
	if root != nil {
		p.walk(root, "", schema)
	}
	if err := p.err(); err != nil {
		return nil, err
	}

	cfg := Default(hostname)
	if root != nil {
		if err := decode(root, &cfg, hostname); err != nil {
			return nil, p.decodeErr(err)
		}
	}
	cfg.Path = path
	cfg.TOTP.Algorithm = normalizeAlgorithm(cfg.TOTP.Algorithm)
	if cfg.Duo != nil {
		cfg.Duo.resolve(p)
	}
	if cfg.Radius != nil {
		cfg.Radius.resolve(p)
	}
	cfg.Store.resolve(p)
	cfg.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// decode hands the node tree, already checked key by key, to a private
// viper instance and decodes it over cfg's defaults. No environment, no
// search paths, no weak typing. An optional section is decoded over its
// own defaults, and so is each radius server: a list item has none else.
func decode(root *yaml.Node, cfg *Config, hostname string) error {
	var m map[string]any
	if err := root.Decode(&m); err != nil {
		return err
	}
	if _, ok := m["duo"]; ok {
		d := defaultDuo()
		cfg.Duo = &d
	}
	if r, ok := m["radius"]; ok {
		d := defaultRadius(hostname)
		section, _ := r.(map[string]any)
		servers, _ := section["servers"].([]any)
		for range servers {
			d.Servers = append(d.Servers, defaultServer)
		}
		cfg.Radius = &d
	}
	v := viper.NewWithOptions(viper.WithDecodeHook(strictHook))
	if err := v.MergeConfigMap(m); err != nil {
		return err
	}
	return v.Unmarshal(cfg, func(dc *mapstructure.DecoderConfig) {
		dc.WeaklyTypedInput = false
		dc.ErrorUnused = true
		dc.ZeroFields = false
	})
}

var durationType = reflect.TypeFor[time.Duration]()

// strictHook turns duration strings into durations and refuses what the
// decoder would otherwise convert silently: a number into a duration (it
// would mean nanoseconds) and a fraction into an integer (truncated).
func strictHook(from, to reflect.Type, data any) (any, error) {
	if to == durationType {
		// A bare 0 reaches here only for offDurations: the schema walk
		// refused it for every other key.
		if rv := reflect.ValueOf(data); data == "0" || (rv.CanInt() && rv.Int() == 0) {
			return time.Duration(0), nil
		}
		s, ok := data.(string)
		if !ok {
			return nil, errDurationUnit
		}
		return parseDuration(s)
	}
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if from.Kind() == reflect.Float32 || from.Kind() == reflect.Float64 {
			return nil, errors.New("must be a whole number")
		}
	}
	return data, nil
}

var (
	errDurationUnit = errors.New(`needs a unit, e.g. "60s" or "3m": a bare number would mean nanoseconds`)
	errDuration     = errors.New(`not a duration; write a number and a unit (ms, s, m, h), e.g. "90s", "3m" or "1h30m"`)
)

// parseDuration accepts Go durations with a unit only: "0" and "60" are
// refused, since a reader cannot tell what unit was meant.
func parseDuration(s string) (time.Duration, error) {
	if strings.Trim(s, "+-0123456789.") == "" {
		return 0, errDurationUnit
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errDuration
	}
	return d, nil
}

// decodeErr reports what the decoder refused. The checks before it make
// this a backstop; mapstructure's messages carry types, never values.
func (p *problems) decodeErr(err error) error {
	var walk func(error)
	walk = func(err error) {
		var de, deeper *mapstructure.DecodeError
		if !errors.As(err, &de) {
			p.add("", 0, "cannot decode: %s", err)
			return
		}
		inner := de.Unwrap()
		if _, nested := inner.(interface{ Unwrap() []error }); nested || errors.As(inner, &deeper) {
			leaves(inner, walk)
			return
		}
		p.add(de.Name(), 0, "%s", inner)
	}
	leaves(err, walk)
	return p.err()
}
