#!/bin/sh
# Run pytest N times in a row with a CPU hog on each core, noting the load and the time of each run.
#   bench/suite_under_load.sh 3 [pytest arguments...]   (default arguments: the whole suite as `make test` runs it)
# Each run's output goes to suite-under-load.N.log; the times to suite-under-load.times.
set -u
cd "$(dirname "$0")/.."
runs=${1:-3}
[ $# -gt 0 ] && shift
[ $# -eq 0 ] && set -- -n 3 --dist loadscope
failed=0
i=1
while [ "$i" -le "$runs" ]; do
  timeout 7200 python3 -c 'while 1: pass' & hog1=$!
  timeout 7200 python3 -c 'while 1: pass' & hog2=$!
  echo "run $i start $(date -u +%FT%TZ) $(uptime)" >> suite-under-load.times
  /usr/bin/time -a -o suite-under-load.times -f "run $i: %e s wall, %U s user, %S s sys" \
    .venv/bin/pytest -q -p no:cacheprovider "$@" > "suite-under-load.$i.log" 2>&1
  code=$?
  echo "run $i exit $code end $(date -u +%FT%TZ) $(uptime)" >> suite-under-load.times
  kill "$hog1" "$hog2"
  [ "$code" -ne 0 ] && failed=1
  i=$((i + 1))
done
exit "$failed"
