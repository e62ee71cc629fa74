#!/usr/bin/env bash
# Builds litevfs for the browser into build/wasm/web (or $1): litevfs-core.js + litevfs-core.wasm
# (SQLite + the browser VFS + the native cloud client, over synchronous fetch in a Worker)
# beside the demo page and the JS API from vfs/wasm/web. Needs what scripts/deps-wasm
# installs (Debian's emscripten 3.1.6, node-acorn; the SQLite amalgamation from the pinned
# npm better-sqlite3). Incremental: an object is rebuilt when its source or a header it
# includes is newer. Separate from the CMake presets, so it adds nothing to native builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build/wasm/web}
obj=$root/build/wasm/obj
sqlite_dir=$root/build/npm-wasm/node_modules/better-sqlite3/deps/sqlite3
command -v emcc >/dev/null || { echo "vfs/wasm/build.sh: no emcc on PATH: run scripts/deps-wasm" >&2; exit 1; }
[ -f "$sqlite_dir/sqlite3.c" ] || { echo "vfs/wasm/build.sh: no $sqlite_dir/sqlite3.c: run scripts/deps-wasm" >&2; exit 1; }
# emcc's JS optimizer requires acorn, which Debian installs under /usr/share/nodejs.
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
mkdir -p "$obj" "$out" "$obj/inc"
# nlohmann/json (header-only) without the rest of /usr/include, whose headers are not wasm's.
ln -sfn /usr/include/nlohmann "$obj/inc/nlohmann"

sqlite_defs=(-DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_TEMP_STORE=3
             -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_OMIT_DEPRECATED -DSQLITE_DQS=0)
cxx_flags=(-std=c++20 -O2 -fexceptions -DLITEVFS_NO_ZSTD -DLITEVFS_VERSION="\"wasm\""
           -I"$root/vfs/include" -I"$root/vfs/src" -I"$root" -I"$root/libltx/include"
           -isystem "$obj/inc" -isystem "$sqlite_dir")
own_warnings=(-Wall -Wextra -Werror)
core=(vfs/src/transport.cc vfs/src/readahead.cc vfs/src/btree.cc vfs/src/client.cc vfs/src/client_codec.cc vfs/src/host_list.cc vfs/src/log.cc
      libltx/src/format.cc libltx/src/status.cc libltx/src/io.cc libltx/src/fd_io.cc
      libltx/src/checksum.cc)
own=(vfs/wasm/src/fetch_transport.cc vfs/wasm/src/page_store.cc vfs/wasm/src/remote_db.cc vfs/wasm/src/wasm_vfs.cc
     vfs/wasm/src/api.cc)

# Whether $2 (an object with a depfile $2.d) is older than any file it was built from.
stale() {
  [ -f "$2" ] && [ -f "$2.d" ] || return 0
  local f
  for f in $(sed -e 's/\\$//' -e 's/^[^:]*://' "$2.d"); do [ "$f" -nt "$2" ] && return 0; done
  return 1
}
compile() {  # compile SRC OBJ FLAGS...
  local src=$1 o=$2; shift 2
  stale "$src" "$o" || return 0
  echo "emcc $src" >&2
  emcc "$@" -MMD -MF "$o.d" -c "$root/$src" -o "$o"
}
compile "${sqlite_dir#$root/}/sqlite3.c" "$obj/sqlite3.o" -O2 "${sqlite_defs[@]}"
objs=("$obj/sqlite3.o")
for s in "${core[@]}"; do
  o=$obj/$(echo "$s" | tr / _).o; compile "$s" "$o" "${cxx_flags[@]}"; objs+=("$o")
done
for s in "${own[@]}"; do
  o=$obj/$(echo "$s" | tr / _).o; compile "$s" "$o" "${cxx_flags[@]}" "${own_warnings[@]}"; objs+=("$o")
done
relink=0
[ -f "$out/litevfs-core.wasm" ] || relink=1
for o in "${objs[@]}"; do
  if [ "$o" -nt "$out/litevfs-core.wasm" ]; then relink=1; fi
done
if ((relink)); then
  echo "emcc link $out/litevfs-core.js" >&2
  emcc -O2 --closure=0 -fexceptions -sFETCH=1 -sENVIRONMENT=worker -sALLOW_MEMORY_GROWTH=1 \
    -sEXPORTED_FUNCTIONS=_lv_open,_lv_query,_lv_stats,_lv_close \
    -sEXPORTED_RUNTIME_METHODS=ccall,UTF8ToString \
    "${objs[@]}" -o "$out/litevfs-core.js"
fi
cp "$root"/vfs/wasm/web/* "$out/"
