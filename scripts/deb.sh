#!/usr/bin/env bash
# Builds the printstation Debian package: make deb.
#   VERSION  package version (default: from git, e.g. 0.1.0+git20261130.fd1fbc8)
#   OUT      folder for the .deb (default dist)
#   STAGE    staging folder (default a temporary one)
#   LINTIAN  0 to skip the lintian check
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
OUT=${OUT:-dist}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
if [ -z "${VERSION:-}" ]; then
  VERSION="0.1.0+git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).$(git rev-parse --short HEAD 2>/dev/null || echo local)"
fi
STAGE=${STAGE:-$(mktemp -d)}
ARCH=$($GO env GOARCH)
mkdir -p "$OUT" "$STAGE/bin" "$STAGE/man" "$STAGE/completion"

# PIE, full RELRO, fortified C parts, stripped, no build paths: what
# Debian's hardening and reproducibility checks ask.
CGO_ENABLED=1 CGO_CFLAGS="-O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong" \
  $GO build -trimpath -buildmode=pie \
  -ldflags "-s -w -X printstation/version.Version=$VERSION -buildid= -extldflags '-Wl,-z,relro,-z,now'" \
  -o "$STAGE/bin/" ./cmd/printstationd ./cmd/printstationctl
strip --remove-section=.comment --remove-section=.note "$STAGE/bin/printstationd" "$STAGE/bin/printstationctl"

# Man pages and completion come from the binaries' own help, that is from
# the flag sets they parse with.
"$STAGE/bin/printstationd" help --man | gzip -9n > "$STAGE/man/printstationd.8.gz"
"$STAGE/bin/printstationctl" help --man | gzip -9n > "$STAGE/man/printstationctl.1.gz"
"$STAGE/bin/printstationd" completion bash > "$STAGE/completion/printstationd"
"$STAGE/bin/printstationctl" completion bash > "$STAGE/completion/printstationctl"
gzip -9n < README.md > "$STAGE/README.md.gz"
{
  echo "printstation ($VERSION) unstable; urgency=medium"
  echo
  echo "  * Built from $(git rev-parse HEAD 2>/dev/null || echo 'a source tree without git')."
  echo
  echo " -- printstation maintainers <printstation@example.go.id>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$STAGE/changelog.gz"

deb="$OUT/printstation_${VERSION}_${ARCH}.deb"
$GO run ./packaging/mkdeb -config packaging/nfpm.yaml -stage "$STAGE" -version "$VERSION" -arch "$ARCH" -out "$deb"
echo "$deb"

if [ "${LINTIAN:-1}" != 0 ]; then
  # Tags the package overrides are explained in packaging/lintian-overrides.
  lintian --fail-on error,warning --display-info "$deb" >&2
fi
