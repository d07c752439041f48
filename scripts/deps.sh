#!/usr/bin/env bash
# deps.sh installs what logingate's build and tests need: the Debian packages
# below and staticcheck; `deps.sh demo` only what `make demo` uses. It is
# idempotent and returns at once when everything is present. As root it
# installs what is missing (apt, no service started); otherwise it lists what
# is missing, and fails when CI=true.
set -euo pipefail

# Debian packages the tests use. Keep this the only list.
DEB_PACKAGES=(
	openssh-server openssh-client # the real sshd and ssh/scp/sftp for end-to-end tests
	oathtool                      # independent TOTP codes
	zbar-tools                    # zbarimg decodes QR codes
	libpam-google-authenticator   # google-authenticator files to import, bench peer
	libnss-extrausers             # users and groups that exist only through NSS
	expect pamtester              # bench and peer comparisons
	gcc libc6-dev make            # go test -race (cgo), make targets
	git rsync                     # end-to-end protocol tests
	freeradius                    # a real RADIUS server for the RADIUS factor's tests
	postgresql                    # a real PostgreSQL for the shared store's tests
	dpkg-dev lintian              # make deb (dpkg-deb) and the package's checks
	strace                        # the hostile suite's root-run tracer kills the gate at exact steps
)
# `make demo` needs only these: sshd and a client, oathtool for -check, and
# the build. A newcomer's first run should not wait for PostgreSQL.
DEMO_PACKAGES=(openssh-server openssh-client oathtool make)
if [[ ${1:-} == demo ]]; then
	DEB_PACKAGES=("${DEMO_PACKAGES[@]}")
fi
STATICCHECK_MODULE=honnef.co/go/tools
STATICCHECK_VERSION=v0.8.2

say() { printf 'deps: %s\n' "$*" >&2; }

# missing_debs prints the packages of DEB_PACKAGES that are not installed.
missing_debs() {
	local installed
	# One dpkg-query for all; it exits 1 when some are unknown, which is fine.
	installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${DEB_PACKAGES[@]}" 2>/dev/null |
		awk '$NF == "installed" { print $1 }' || true)
	local p
	for p in "${DEB_PACKAGES[@]}"; do
		grep -qxF -- "$p" <<<"$installed" || printf '%s\n' "$p"
	done
}

install_debs() {
	local -a pkgs=("$@")
	# Never let a package's maintainer script start sshd (or anything else) as
	# a system service: policy-rc.d exit 101 forbids it. Keep an existing
	# policy; only add ours when there is none, and remove it afterwards.
	local policy=/usr/sbin/policy-rc.d
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# added by logingate scripts/deps.sh during apt-get install\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	say "installing: ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# On a fresh cloud machine unattended upgrades often hold dpkg's lock for
	# the first minutes: wait for it rather than fail.
	local -a wait=(-o DPkg::Lock::Timeout=300)
	apt-get "${wait[@]}" update -qq
	apt-get "${wait[@]}" install -y -qq --no-install-recommends "${pkgs[@]}"
}

check_debs() {
	if ! command -v dpkg-query >/dev/null; then
		say "not a Debian system: install by hand the equivalents of: ${DEB_PACKAGES[*]}"
		[[ ${CI:-} == true ]] && return 1
		return 0
	fi
	local -a missing
	mapfile -t missing < <(missing_debs)
	((${#missing[@]} == 0)) && return 0
	if ((EUID == 0)); then
		install_debs "${missing[@]}"
		mapfile -t missing < <(missing_debs)
		((${#missing[@]} == 0)) && return 0
		say "still missing after install: ${missing[*]}"
		return 1
	fi
	say "missing Debian packages (run as root: apt-get install ${missing[*]})"
	if [[ ${CI:-} == true ]]; then
		return 1
	fi
	say "warning: tests that need them will be skipped"
}

check_staticcheck() {
	if ! command -v go >/dev/null; then
		say "go is not installed (need the version in go.mod)"
		return 1
	fi
	local bin
	bin="$(go env GOPATH)/bin/staticcheck"
	if [[ -x $bin ]] && go version -m "$bin" 2>/dev/null |
		grep -qE "^[[:space:]]+mod[[:space:]]+${STATICCHECK_MODULE}[[:space:]]+${STATICCHECK_VERSION}[[:space:]]"; then
		return 0
	fi
	say "installing staticcheck ${STATICCHECK_VERSION} into $(dirname "$bin")"
	go install "${STATICCHECK_MODULE}/cmd/staticcheck@${STATICCHECK_VERSION}"
}

status=0
check_debs || status=1
if [[ ${1:-} != demo ]]; then
	check_staticcheck || status=1
fi
exit "$status"
