#!/bin/sh
# mkdeb.sh BINARY VERSION OUTDIR builds OUTDIR/logingate_VERSION_ARCH.deb
# around a logingate binary built by `make deb`.
#
# Plain dpkg-deb, no debhelper or packaging library: the package is one
# binary, a man page, a conffile and three maintainer scripts, which
# dpkg-dev's dpkg-deb builds with no extra
# toolchain, and every line of what lands on a host is in this file and
# packaging/deb. --root-owner-group makes every file root:root without
# fakeroot; the setgid mode comes from postinst's dpkg-statoverride, since
# the logingate group does not exist where the package is built.
set -eu
export LC_ALL=C TZ=UTC0

bin=$1 version=$2 out=$3
maintainer=${DEB_MAINTAINER:-The logingate Authors <maintainers@logingate.org>}
top=$(cd "$(dirname "$0")/.." && pwd)
pkg="$top/packaging/deb"
arch=$(dpkg --print-architecture)
# Reproducible file dates: the commit's, else the build's.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022
chmod 0755 "$stage"

install -D -m 0755 "$bin" "$stage/usr/bin/logingate"
install -d -m 0755 "$stage/usr/share/man/man1" "$stage/usr/share/doc/logingate"
gzip -9n <"$top/docs/logingate.1" >"$stage/usr/share/man/man1/logingate.1.gz"
install -D -m 0644 "$top/etc/logingate.yaml" "$stage/etc/logingate/logingate.yaml"
install -D -m 0644 "$pkg/lintian-overrides" "$stage/usr/share/lintian/overrides/logingate"
# Shipped where sshd does not read it: enabling it is the operator's step.
install -D -m 0644 "$top/etc/sshd_config.d/00-logingate.conf" "$stage/usr/share/logingate/00-logingate.conf"

# copyright, machine-readable (DEP-5), its licence text from LICENSE (the
# lines after the copyright line; blank lines become " .").
{
	cat <<-HEAD
	Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
	Upstream-Name: logingate
	Upstream-Contact: $maintainer
	Source: https://github.com/logingate/logingate

	Files: *
	Copyright: 2026 The logingate Authors
	License: BSD-3-Clause

	License: BSD-3-Clause
	HEAD
	sed '1,/^$/d' "$top/LICENSE" | sed -e 's/^$/./' -e 's/^/ /'
} >"$stage/usr/share/doc/logingate/copyright"

# A native package (no Debian revision: upstream and packaging are one
# tree) keeps its Debian changelog as changelog.gz.
{
	printf 'logingate (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built from commit %s.\n\n' "$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)"
	printf ' -- %s  %s\n' "$maintainer" "$(date -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$stage/usr/share/doc/logingate/changelog.gz"


install -d -m 0755 "$stage/DEBIAN"
for s in postinst prerm postrm; do
	install -m 0755 "$pkg/$s" "$stage/DEBIAN/$s"
done
echo /etc/logingate/logingate.yaml >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs md5sum) >"$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
	-e "s|@SIZE@|$size|" "$pkg/control.in" >"$stage/DEBIAN/control"

mkdir -p "$out"
deb="$out/logingate_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
