#!/bin/sh
# Installs flow-proxy from its GitHub releases, verifying the SHA-256 of every
# file against the release's SHA256SUMS before anything is installed.
# Keep this simple and easily auditable.
#
#   curl -fsSL https://github.com/ciandt/flow-proxy/releases/latest/download/install.sh | sh
#   sh install.sh --version v0.1.0
#   sudo sh install.sh --systemd
#
# Environment:
#   FLOW_PROXY_INSTALL        binary directory (~/.local/bin; /usr/local/bin as root)
#   FLOW_PROXY_DOWNLOAD_BASE  releases URL (https://github.com/ciandt/flow-proxy/releases)
#   FLOW_PROXY_SYSTEMD_DIR    unit directory for --systemd (/etc/systemd/system)
#   FLOW_PROXY_ETC_DIR        configuration directory for --systemd (/etc/flow-proxy)

set -e

die() {
	echo "error: $1" >&2
	exit 1
}

usage() {
	cat <<'EOF'
Usage: install.sh [--version vX.Y.Z] [--systemd]

  --version vX.Y.Z  install this release instead of the latest
  --systemd         as root: also install the systemd unit and /etc/flow-proxy/
  -h, --help        show this help
EOF
}

usage_error() {
	echo "error: $1" >&2
	usage >&2
	exit 2
}

version=latest
systemd=no
while [ $# -gt 0 ]; do
	case $1 in
	--version)
		[ $# -ge 2 ] || usage_error "Option '--version' needs a value"
		version=$2
		shift 2
		;;
	--version=*)
		version=${1#--version=}
		shift
		;;
	--systemd)
		systemd=yes
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) usage_error "Unknown option '$1'" ;;
	esac
done

case $version in
latest | v[0-9]*) ;;
[0-9]*) version=v$version ;;
*) usage_error "Invalid version '$version': expected vX.Y.Z" ;;
esac
case $version in
*[!A-Za-z0-9._-]*) usage_error "Invalid version '$version': expected vX.Y.Z" ;;
esac

ext=
case $(uname -sm) in
"Linux x86_64") target=x86_64-unknown-linux-gnu ;;
"Linux aarch64" | "Linux arm64") target=aarch64-unknown-linux-gnu ;;
"Darwin x86_64") target=x86_64-apple-darwin ;;
"Darwin arm64") target=aarch64-apple-darwin ;;
MINGW*" x86_64" | MSYS*" x86_64" | CYGWIN*" x86_64")
	target=x86_64-pc-windows-msvc
	ext=.exe
	;;
*) die "Unsupported platform '$(uname -sm)': build from source instead (docs/install.md)" ;;
esac
asset=flow-proxy-$target$ext

if [ "$(id -u)" = 0 ]; then
	install_dir=${FLOW_PROXY_INSTALL:-/usr/local/bin}
else
	install_dir=${FLOW_PROXY_INSTALL:-$HOME/.local/bin}
fi
exe=$install_dir/flow-proxy$ext

files="$asset"
if [ "$systemd" = yes ]; then
	[ "$(id -u)" = 0 ] || die "Option '--systemd' needs root: run it with sudo"
	case $target in
	*-linux-*) ;;
	*) die "Option '--systemd' is for Linux only" ;;
	esac
	case $exe in
	*[\|\&\\]*) die "Cannot write a unit for '$exe': the path contains '|', '&' or '\\'" ;;
	esac
	unit_dir=${FLOW_PROXY_SYSTEMD_DIR:-/etc/systemd/system}
	etc_dir=${FLOW_PROXY_ETC_DIR:-/etc/flow-proxy}
	files="$files flow-proxy.service secrets.json.template"
fi

if command -v curl >/dev/null 2>&1; then
	downloader=curl
elif command -v wget >/dev/null 2>&1; then
	downloader=wget
else
	die "Cannot download: neither curl nor wget is installed"
fi
if command -v sha256sum >/dev/null 2>&1; then
	hasher="sha256sum"
elif command -v shasum >/dev/null 2>&1; then
	hasher="shasum -a 256"
else
	die "Cannot verify the download: neither sha256sum nor shasum is installed"
fi

base=${FLOW_PROXY_DOWNLOAD_BASE:-https://github.com/ciandt/flow-proxy/releases}
if [ "$version" = latest ]; then
	url=$base/latest/download
else
	url=$base/download/$version
fi

partial=
tmp=$(mktemp -d)
cleanup() {
	rm -rf "$tmp"
	if [ -n "$partial" ]; then rm -f "$partial"; fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

download() {
	if [ "$downloader" = curl ]; then
		curl --fail --location --silent --show-error --output "$tmp/$1" "$url/$1"
	else
		wget -q -O "$tmp/$1" "$url/$1"
	fi
}

# Downloads and checks everything before the first file is installed, so a
# failure leaves an existing installation untouched.
for file in SHA256SUMS $files; do
	download "$file" || die "Cannot download $url/$file: is '$version' a published release?"
done
for file in $files; do
	expected=$(awk -v name="$file" '$2 == name || $2 == "*" name { print $1; exit }' "$tmp/SHA256SUMS")
	[ -n "$expected" ] || die "SHA256SUMS has no entry for $file: nothing was installed"
	actual=$($hasher "$tmp/$file" | cut -d ' ' -f 1)
	[ "$actual" = "$expected" ] ||
		die "Checksum mismatch for $file (expected $expected, got $actual): nothing was installed"
done

# A rename within the directory replaces the binary atomically, even while the
# old one is running.
mkdir -p "$install_dir"
partial=$install_dir/.flow-proxy.partial.$$
cp "$tmp/$asset" "$partial"
chmod 755 "$partial"
mv -f "$partial" "$exe"
partial=
echo "Installed flow-proxy to $exe"
"$exe" --version || echo "warning: $exe does not run on this machine" >&2

if [ "$systemd" = yes ]; then
	mkdir -p "$unit_dir"
	partial=$unit_dir/.flow-proxy.service.partial.$$
	sed "s|^ExecStart=/usr/local/bin/flow-proxy |ExecStart=$exe |" "$tmp/flow-proxy.service" >"$partial"
	chmod 644 "$partial"
	mv -f "$partial" "$unit_dir/flow-proxy.service"
	partial=
	echo "Installed the unit to $unit_dir/flow-proxy.service"
	case $exe in
	/home/* | /root/*) echo "warning: the unit sets ProtectHome=yes, so it cannot run $exe" >&2 ;;
	esac

	mkdir -p "$etc_dir"
	secrets=$etc_dir/secrets.json
	if [ -e "$secrets" ]; then
		echo "Kept the existing $secrets"
	else
		(
			umask 077
			cp "$tmp/secrets.json.template" "$secrets"
		)
		chmod 600 "$secrets"
		echo "Created $secrets from the template (mode 0600)"
	fi
	cat <<EOF

Next steps:
  1. Put your Flow credentials in $secrets
  2. $exe check-secrets --secrets-file $secrets
  3. systemctl daemon-reload
  4. systemctl enable --now flow-proxy
  5. curl http://127.0.0.1:8899/healthz
After an upgrade: systemctl daemon-reload && systemctl restart flow-proxy
EOF
else
	case ":$PATH:" in
	*":$install_dir:"*) echo "Run 'flow-proxy --help' to get started" ;;
	*)
		echo "$install_dir is not on your PATH; add it, e.g. in ~/.profile:"
		echo "  export PATH=\"$install_dir:\$PATH\""
		;;
	esac
fi
