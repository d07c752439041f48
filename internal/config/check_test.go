package config

import "errors"

// Helpers for tests that inspect Load's errors or check a Config built in
// code; production reads a config only through Load, which validates.

// problemList returns each problem in an error from Load or check, in file
// order. Load reports every problem it finds, joined one per line, so that
// an admin can fix them in one go.
func problemList(err error) []*Error {
	var out []*Error
	leaves(err, func(err error) {
		if e := (*Error)(nil); errors.As(err, &e) {
			out = append(out, e)
		}
	})
	return out
}

// check checks every value of c as Load does and reports each problem as
// "PATH: KEY: message".
func (c *Config) check() error {
	path := c.Path
	if path == "" {
		path = "config"
	}
	p := &problems{path: path}
	c.validate(p)
	return p.err()
}
