//go:build !cgo

package session

// logingate resolves users, shells and groups through the C library's NSS
// (nss.go), so that LDAP, SSSD and extrausers users are gated by their real
// groups. A CGO_ENABLED=0 build would see only /etc/passwd and /etc/group and
// could let an LDAP user skip the second factor, so it is refused at compile
// time rather than failing at login.
var _ = logingate_needs_cgo_for_NSS_user_and_group_lookups
