#!/bin/sh
# Install the stand-alone flowviz (this unpacked archive) for the current user, or under PREFIX:
#   ./install.sh            -> ~/.local/opt/flowviz, ~/.local/bin/flowviz, menu entry, icons, metainfo
#   PREFIX=/usr/local sudo -E ./install.sh
# Remove it again with: ./install.sh --uninstall
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$prefix/opt/flowviz" "$prefix/bin/flowviz" "$prefix/share/applications/flowviz.desktop" \
        "$prefix/share/metainfo/io.github.flowviz.flowviz.metainfo.xml"
    find "$prefix/share/icons/hicolor" -name 'flowviz.*' -delete 2>/dev/null || true
    echo "flowviz removed from $prefix"
    exit 0
fi
mkdir -p "$prefix/opt" "$prefix/bin" "$prefix/share"
rm -rf "$prefix/opt/flowviz"
cp -R "$here/flowviz" "$prefix/opt/flowviz"
ln -sf "$prefix/opt/flowviz/flowviz" "$prefix/bin/flowviz"
cp -R "$here/share/." "$prefix/share/"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$prefix/share/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" || true
echo "flowviz installed: $prefix/bin/flowviz (and in the applications menu)"
