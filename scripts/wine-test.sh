#!/usr/bin/env bash
# wine-test.sh: run tcptable's Windows tests under Wine, on Linux.
#
#   scripts/wine-test.sh [go test flags...]
#
# It builds the stand-in bcryptprimitives.dll (Wine 8.0 lacks
# ProcessPrng, without which Go >= 1.22 programs die at start) from
# scripts/wine/bcryptprimitives.c, creates a fresh Wine prefix in a temporary
# directory, cross-compiles the test binary of each package in
# WINE_TEST_PKGS (default: ./providers/windows, ./conformance (the suite and its
# self-tests), and ./providers/native and
# ./cmd/tcptable, which reach the Windows provider on Windows; not
# ./providers/gopsutil, Windows' fallback only, whose process enumeration
# takes minutes a call under Wine) with GOOS=windows
# GOARCH=amd64, runs it with wine64 from the package's directory (so that
# testdata/ is found) and exits with its status. Extra arguments go to the
# test binary (e.g. -test.run TestConformance). Then, as root, it runs the
# Wine-vs-Linux tests in a network namespace (providers/windows,
# TestWineDifferential: the table with a link-local address, and a poll
# under connection churn), which need the DLL it built.
#
# Without wine64 or x86_64-w64-mingw32-gcc (or root, for the namespace
# tests) it prints SKIP and a hint and exits 0, unless CI=true or
# TCPTABLE_REQUIRE_PRIVILEGED=1, where a missing tool is a failure.
#
# Environment: WINE (default /usr/lib/wine/wine64), WINESERVER (default
# /usr/lib/wine/wineserver), MINGW_CC (default x86_64-w64-mingw32-gcc),
# WINE_TEST_PKGS, KEEP_WINE_TEST_DIR=1 keeps the temporary directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
wine=${WINE:-/usr/lib/wine/wine64}
wineserver=${WINESERVER:-/usr/lib/wine/wineserver}
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
read -r -a pkgs <<<"${WINE_TEST_PKGS:-./providers/windows ./providers/native ./conformance ./cmd/tcptable}"

required() { [ "${CI:-}" = true ] || [ "${TCPTABLE_REQUIRE_PRIVILEGED:-}" = 1 ]; }
missing() {
	if required; then
		echo "wine-test: FAIL: $1 (CI=true or TCPTABLE_REQUIRE_PRIVILEGED=1: the Windows tests must run; apt-get install wine64 gcc-mingw-w64-x86-64)" >&2
		exit 1
	fi
	echo "wine-test: SKIP: $1 (hint: apt-get install wine64 gcc-mingw-w64-x86-64)"
	exit 0
}
[ -x "$wine" ] || missing "$wine not found"
[ -x "$wineserver" ] || missing "$wineserver not found"
command -v "$cc" >/dev/null || missing "$cc not found"
command -v go >/dev/null || missing "go not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/tcptable-wine.XXXXXX")
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEARCH=win64
# No Mono or Gecko installers and no window: the prefix must come up unattended.
export WINEDLLOVERRIDES="mscoree=;mshtml=;winemenubuilder.exe=d"
unset DISPLAY WAYLAND_DISPLAY
cleanup() {
	"$wineserver" -k >/dev/null 2>&1 || true
	"$wineserver" -w >/dev/null 2>&1 || true
	if [ "${KEEP_WINE_TEST_DIR:-}" = 1 ]; then
		echo "wine-test: kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

echo "wine-test: $("$wine" --version), prefix $WINEPREFIX"
dll="$work/bcryptprimitives.dll"
"$cc" -shared -O2 -Wall -Werror -o "$dll" \
	"$root/scripts/wine/bcryptprimitives.c" "$root/scripts/wine/bcryptprimitives.def" -ladvapi32

start=$SECONDS
"$wine" wineboot -i >"$work/wineboot.log" 2>&1 || {
	cat "$work/wineboot.log" >&2
	echo "wine-test: FAIL: wineboot -i" >&2
	exit 1
}
"$wineserver" -w
cp "$dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
echo "wine-test: prefix ready in $((SECONDS - start))s"

rc=0
cd "$root"
for pkg in "${pkgs[@]}"; do
	exe="$work/$(basename "$pkg").test.exe"
	echo "wine-test: GOOS=windows GOARCH=amd64 go test -c $pkg"
	GOOS=windows GOARCH=amd64 go test -c -o "$exe" "$pkg"
	echo "wine-test: running $pkg under Wine"
	status=0
	(cd "$root/$pkg" && "$wine" "$exe" -test.v -test.timeout 10m "$@") || status=$?
	if [ "$status" != 0 ]; then
		echo "wine-test: FAIL: $pkg exited with status $status" >&2
		rc=$status
	fi
done
"$wineserver" -k >/dev/null 2>&1 || true
"$wineserver" -w >/dev/null 2>&1 || true

if [ "$(id -u)" = 0 ]; then
	echo "wine-test: Wine-vs-Linux differential and churn tests in a network namespace"
	TCPTABLE_WINE_DLL="$dll" WINE="$wine" WINESERVER="$wineserver" \
		go test -count=1 -v -run 'TestWineDifferential' ./providers/windows/ || rc=$?
elif required; then
	echo "wine-test: FAIL: the differential test needs root (ip netns)" >&2
	rc=1
else
	echo "wine-test: SKIP: the differential test needs root (ip netns)"
fi
exit "$rc"
