# shellcheck shell=bash
# Helpers shared by the scripts in this folder; sourced, never run. Callers define log().

# Debian's interpreter first: an earlier python3 on PATH (a pyenv shim, say) may resolve to a version that is
# not installed for the current directory, and only the standard library is needed.
py3() {
  if [ -x /usr/bin/python3 ]; then /usr/bin/python3 "$@"; else python3 "$@"; fi
}

# build_lock CACHE_ROOT: one build at a time into the binary cache, across clones and concurrent runs, until
# build_unlock or exit. The cache is shared, and each build takes 1-3 GB and both cores. The lock is fd 9,
# which scripts/cluster.sh closes for the daemons it starts so they never hold it.
build_lock() {
  mkdir -p "$1"
  exec 9>"$1/build.lock"
  flock -n 9 || { log "waiting for another build into $1"; flock 9; }
}

build_unlock() { flock -u 9; }

# copy_project DEST: the project's files (committed or new, not ignored, not deleted) without its stack files,
# copied to DEST with their paths, for a run on a copy with a cluster and state of its own.
copy_project() {
  git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do
    [[ -e $f && $f != Pulumi.*.yaml ]] && printf '%s\0' "$f"
  done | xargs -0 cp --parents -t "$1"
}

# seconds START END: the time between two `date +%s.%N` readings, for the bench scripts.
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }

# median: the median of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
