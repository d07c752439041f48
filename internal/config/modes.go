package config

// The modes: each key with a closed set of values is a named type, read
// once here (Load decodes, validate checks the set), so the gate and the
// CLI compare constants, never strings.

// Failmode is what a login gets when an outside service (Duo, RADIUS, the
// database) cannot be reached.
type Failmode string

const (
	FailmodeSecure Failmode = "secure" // deny
	FailmodeSafe   Failmode = "safe"   // allow, logged, as login_duo's failmode = safe
)

// Unenrolled is what a user in a gated group with no factor gets.
type Unenrolled string

const (
	UnenrolledDeny   Unenrolled = "deny"
	UnenrolledAllow  Unenrolled = "allow"
	UnenrolledEnroll Unenrolled = "enroll"
)

// Headless is what a session without a terminal may do: be denied, use a
// trusted window, or get login_duo's silent push to the default Duo device
// (only with a duo: section).
type Headless string

const (
	HeadlessDeny    Headless = "deny"
	HeadlessTrusted Headless = "trusted"
	HeadlessPush    Headless = "push"
)

// Backend is where the state lives: files under state_dir, or PostgreSQL.
type Backend string

const (
	BackendFile     Backend = "file"
	BackendPostgres Backend = "postgres"
)

// The accepted values, in the order the error messages list them.
var (
	failmodes     = []Failmode{FailmodeSecure, FailmodeSafe}
	unenrolled    = []Unenrolled{UnenrolledDeny, UnenrolledAllow, UnenrolledEnroll}
	headless      = []Headless{HeadlessDeny, HeadlessTrusted, HeadlessPush}
	storeBackends = []Backend{BackendFile, BackendPostgres}
)
