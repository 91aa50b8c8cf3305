#!/usr/bin/env bash
# The out-of-tree plugin path, end to end:
#   1. cmake --install this build into a temp prefix (headers, libvisft, visft, CMake package, visft.pc);
#   2. build examples/plugin-template against that prefix with find_package(visft), and run its self-test;
#   3. run the *installed* visft with VISFT_PLUGIN_PATH at the template's build dir: `plugins describe`
#      must print the template's parameters;
#   4. compile a program with `pkg-config visft`;
#   5. move the prefix: the installed visft must still find libvisft and its plugins.
# usage: test_install.sh BUILD_DIR SOURCE_DIR C_COMPILER [EXTRA_FLAGS]
set -euo pipefail
build=$1 src=$2 cc=$3 extra=${4:-}
tmp=$(mktemp -d /tmp/visft_install_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_install: $*" >&2; exit 1; }
expect() { # expect NAME TEXT PATTERN...
  local what=$1 text=$2; shift 2
  for pat in "$@"; do
    grep -qF -- "$pat" <<<"$text" || fail "$what lacks '$pat'; got:"$'\n'"$text"
  done
}

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install failed"; }
pc=$(find "$prefix" -name visft.pc | head -1)
[ -n "$pc" ] || fail "no visft.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in "$prefix/bin/visft" "$prefix/include/visft/plugin.h" "$prefix/include/visft/params.h" \
         "$prefix/include/visft/error.h" "$libdir/cmake/visft/visftConfig.cmake" "$libdir/libvisft.so"; do
  [ -e "$f" ] || fail "not installed: $f"
done
[ -d "$libdir/visft/plugins" ] || fail "no plugin directory $libdir/visft/plugins"

# 2. the template, out of tree (CFLAGS/LDFLAGS carry the sanitizer flags in a sanitizer build)
CFLAGS="$extra" LDFLAGS="$extra" cmake -S "$src/examples/plugin-template" -B "$tmp/template" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" 2>&1 \
  || { cat "$tmp/configure.log"; fail "configuring the template against the install failed"; }
cmake --build "$tmp/template" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "building the template failed"; }
[ -f "$tmp/template/probe_template.so" ] || fail "template did not produce probe_template.so"
"$tmp/template/probe_selftest" "$tmp/template" || fail "template self-test failed"

# 3. the installed visft finds and describes it
out=$(VISFT_PLUGIN_PATH="$tmp/template" "$prefix/bin/visft" plugins describe probe_template) \
  || fail "installed 'visft plugins describe probe_template' failed"
expect "describe" "$out" "plugin probe_template 0.1.0 (license MIT, plugin ABI 1.0)" \
  "head probe_template: linear classifier on pooled backbone features" "PARAMETER" \
  "num_classes" "(required)" "[2, 1000000]" "number of output classes" \
  "pool" "enum" "mean|cls" "init_std" "0.02" "label_smoothing" "[0, 0.5]" \
  "bias" "bool" "true" "class_names" "list[string]"
out=$(VISFT_PLUGIN_PATH="$tmp/template" "$prefix/bin/visft" plugins) || fail "installed 'visft plugins' failed"
expect "plugins" "$out" "probe_template" "$tmp/template/probe_template.so" "$libdir/visft/plugins"
case "$out" in *"$build/plugins"*) fail "the installed visft searched the build tree: $out" ;; esac

# 4. pkg-config
cat >"$tmp/abi.c" <<'C'
#include <stdio.h>
#include <visft/registry.h>
int main(void) {
    vt_registry *r = NULL;
    vt_err e;
    if (vt_registry_create(&r, &e) != VT_OK) return 1;
    vt_registry_destroy(r);
    printf("%d.%d\n", VT_PLUGIN_ABI_MAJOR, VT_PLUGIN_ABI_MINOR);
    return 0;
}
C
flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs visft) || fail "pkg-config visft failed"
# shellcheck disable=SC2086
"$cc" -std=c11 $extra "$tmp/abi.c" -o "$tmp/abi" $flags -Wl,-rpath,"$libdir" || fail "compiling with pkg-config flags failed"
[ "$("$tmp/abi")" = "1.0" ] || fail "pkg-config program printed the wrong ABI"

# 5. a moved prefix still works (RPATH and plugin directory are relative to the install)
mv "$prefix" "$tmp/moved"
out=$(VISFT_PLUGIN_PATH="$tmp/template" "$tmp/moved/bin/visft" plugins describe probe_template) \
  || fail "visft from a moved prefix failed"
expect "describe (moved prefix)" "$out" "num_classes"
out=$("$tmp/moved/bin/visft" plugins) || fail "visft plugins from a moved prefix failed"
expect "plugins (moved prefix)" "$out" "$tmp/moved/${libdir#"$prefix/"}/visft/plugins"
echo "test_install: ok"
