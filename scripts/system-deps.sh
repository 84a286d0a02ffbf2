#!/usr/bin/env bash
# System libraries the project needs beyond PyPI: OpenJPEG for glymur's reduced-resolution JPEG2000
# decoding, Chromium + its driver for the real-browser Neuroglancer test, nginx for the benchmark baseline,
# Xvfb for napari's OpenGL canvas in the client matrix test (Qt offscreen still needs GLX), rclone and s3cmd for
# the S3 client tests (and rclone for the bench).
# Qt's xcb libraries: napari windows on Xvfb that draw real pixels (napari plugin screenshot, bench/napari_open.py).
# Exits non-zero when something asked for is missing and cannot be installed (CI must not go on without it).
set -euo pipefail
missing() {
  want=()
  ldconfig -p 2>/dev/null | grep -q libopenjp2 || want+=(libopenjp2-7)
  [ "${1:-}" = "--all" ] && { command -v chromium >/dev/null || want+=(chromium); command -v chromedriver >/dev/null || want+=(chromium-driver); command -v nginx >/dev/null || want+=(nginx); command -v wrk >/dev/null || want+=(wrk); command -v Xvfb >/dev/null || want+=(xvfb); command -v curl >/dev/null || want+=(curl); command -v rclone >/dev/null || want+=(rclone); command -v s3cmd >/dev/null || want+=(s3cmd); ldconfig -p 2>/dev/null | grep -q libGLX_mesa || want+=(libgl1 libglx-mesa0 libgl1-mesa-dri libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3); ldconfig -p 2>/dev/null | grep -q libxcb-xinerama || want+=(libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0); }
  return 0
}
missing "${1:-}"
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${want[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null
  missing "${1:-}"  # installed is not enough: what was asked must now be found
  [ ${#want[@]} -eq 0 ] && exit 0
  echo "error: still missing after installing: ${want[*]}" >&2
else
  echo "error: missing system packages ${want[*]} (install them with your package manager, as root)" >&2
fi
exit 1
