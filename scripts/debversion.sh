#!/bin/sh
# debversion.sh prints the Debian package version of the git tree it runs
# in, one that dpkg sorts in commit order:
#
#   HEAD tagged vX.Y.Z            X.Y.Z         (v1.2.0-rc1 gives 1.2.0~rc1)
#   later commits after vX.Y.Z    X.Y.Z+gitYYYYMMDD.HHMMSS.HASH
#   no tag reachable              0.0~gitYYYYMMDD.HHMMSS.HASH
#   uncommitted changes           any of these + "+dirtyYYYYMMDD.HHMMSS"
#
# The date and time are the commit's (UTC), so two commits of one day still
# sort in order; the hash says which commit it is. A dirty build sorts above
# its commit and below the next one, and a later dirty build above an
# earlier one (its stamp is the build time). A shallow clone has no tags and
# maybe no history: git describe then fails and the 0.0~git form is used,
# which needs only HEAD. Outside git there is no honest version to claim:
# set DEB_VERSION.
set -eu
export LC_ALL=C TZ=UTC0

if ! head=$(git rev-parse --verify --quiet HEAD 2>/dev/null); then
	echo 'logingate: error: not a git checkout with a commit: set DEB_VERSION' >&2
	exit 1
fi
hash=$(printf '%s' "$head" | cut -c1-12)
stamp=$(git log -1 --format=%cd --date=format-local:%Y%m%d.%H%M%S HEAD)

# upstream turns a tag vX.Y.Z[-pre] into X.Y.Z[~pre] (a pre-release sorts
# before its release), or prints nothing for a tag of another shape.
upstream() {
	printf '%s\n' "$1" | sed -n -E 's/^v([0-9]+\.[0-9]+\.[0-9]+)(-([0-9A-Za-z.]+))?$/\1~\3/p' | sed 's/~$//'
}

version=
if tag=$(git describe --tags --exact-match --match 'v[0-9]*' HEAD 2>/dev/null); then
	version=$(upstream "$tag")
fi
if [ -z "$version" ]; then
	base=
	if tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' HEAD 2>/dev/null); then
		base=$(upstream "$tag")
	fi
	if [ -n "$base" ]; then
		version="$base+git$stamp.$hash"
	else
		version="0.0~git$stamp.$hash"
	fi
fi
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	version="$version+dirty$(date +%Y%m%d.%H%M%S)"
fi
printf '%s\n' "$version"
