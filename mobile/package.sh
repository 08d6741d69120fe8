#!/usr/bin/env bash
# package.sh builds the phone packages with the fyne tool (fyne.io/tools,
# the version below): an .apk for Android, an .app for iOS.
#
#   mobile/package.sh android    needs the Android NDK (ANDROID_NDK_HOME)
#   mobile/package.sh ios        needs macOS with Xcode
#
# Android: our manifest (mobile/android/AndroidManifest.xml) is copied
# beside main.go for the run of fyne package, which then uses it instead of
# generating one, and removed afterwards.
# iOS: fyne package writes its own Info.plist; the PlistBuddy commands this
# script prints merge mobile/ios/Info.plist.entries into it.
#
# Neither toolchain is available on the project's Linux build machine, so
# this script is not run by CI; `go build -tags mobile .` and the
# -tags mobile tests check the phone layout there.
set -euo pipefail
cd "$(dirname "$0")/.."
fyne_tool=fyne.io/tools/cmd/fyne@v1.7.4
target=${1:-}

case "$target" in
android)
  if [ -z "${ANDROID_NDK_HOME:-}" ] || [ ! -d "$ANDROID_NDK_HOME" ]; then
    echo "package: set ANDROID_NDK_HOME to the Android NDK (r25 or newer)" >&2
    exit 1
  fi
  if [ -e AndroidManifest.xml ]; then
    echo "package: AndroidManifest.xml already exists beside main.go; remove it first" >&2
    exit 1
  fi
  cp mobile/android/AndroidManifest.xml AndroidManifest.xml
  trap 'rm -f AndroidManifest.xml' EXIT
  go run "$fyne_tool" package -os android -release=false
  ;;
ios)
  if [ "$(uname -s)" != Darwin ]; then
    echo "package: iOS packages are built on macOS with Xcode" >&2
    exit 1
  fi
  go run "$fyne_tool" package -os ios
  plist=Thingpost.app/Info.plist
  echo "package: now merge mobile/ios/Info.plist.entries into $plist, e.g.:"
  echo "  /usr/libexec/PlistBuddy -c 'Add :NSLocalNetworkUsageDescription string Thingpost talks to the mail server of your home, which may run on your router.' $plist"
  echo "  /usr/libexec/PlistBuddy -c 'Add :NSPhotoLibraryUsageDescription string Thingpost reads the QR code of a thing from a photo you choose.' $plist"
  echo "  /usr/libexec/PlistBuddy -c 'Add :UIFileSharingEnabled bool false' $plist"
  ;;
*)
  echo "usage: mobile/package.sh android|ios" >&2
  exit 2
  ;;
esac
