package config

import (
	"strings"
	"time"
)

// maxGrace is the longest grace_period (store.MaxGrace; config does not
// import the store).
const maxGrace = 7 * 24 * time.Hour

// validateHeadless checks headless, grace_period and authorized_keys_files.
func (c *Config) validateHeadless(p *problems) {
	oneOf(p, "headless", c.Headless, headless)
	if c.Headless == HeadlessPush && c.Duo == nil {
		p.add("headless", 0, `"push" needs Duo: add a duo: section, or use "deny" or "trusted"`)
	}
	if c.GracePeriod != 0 && (c.GracePeriod < time.Second || c.GracePeriod > maxGrace) {
		p.add("grace_period", 0, "must be 0 (off) or between 1s and 168h (7 days)")
	}
	for i, f := range c.AuthorizedKeysFiles {
		if msg := checkKeysFile(f); msg != "" {
			p.add("authorized_keys_files", 0, "item %d %s", i+1, msg)
		}
	}
}

// checkKeysFile checks one AuthorizedKeysFile pattern: sshd's tokens only
// (%% %h %u %U), no control characters, not empty.
func checkKeysFile(f string) string {
	switch {
	case strings.TrimSpace(f) == "":
		return "is empty"
	case hasControl(f):
		return "must not contain control characters"
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i+1 == len(f) || !strings.ContainsRune("%huU", rune(f[i+1])) {
			return `has an unknown "%" token; sshd's are %%, %h, %u and %U`
		}
		i++
	}
	return ""
}
