#!/usr/bin/env bash
# tests/sanitize.sh [BUILD_DIR]: every compiled kernel variant under compute-sanitizer.
#
# Runs BUILD_DIR/tritium_sanitize (tests/c/sanitize.c: each variant the device can run, on
# tiny shapes with tails in every dimension, results checked, every variant required to
# launch) under memcheck (with leak checking), racecheck, initcheck and synccheck, natively
# and through the sm_89 PTX (TRITIUM_FORCE_ARCH=89 TRITIUM_FORCE_PTX=1). Fails on any
# error a tool reports, or on the program's own failure.
#
#   tests/sanitize.sh build                          # all 8 runs
#   TOOLS="memcheck racecheck" MODES=native tests/sanitize.sh build
#
# compute-sanitizer: from PATH, else /usr/local/cuda/bin, or $COMPUTE_SANITIZER. Logs go to
# BUILD_DIR/sanitize-logs. Exit: 0 all clean, 1 a failure, 77 no compute-sanitizer or no
# GPU (skip).
set -uo pipefail
BUILD=${1:-${TRITIUM_BUILD_DIR:-build}}
EXE=$BUILD/tritium_sanitize
TOOLS=${TOOLS:-memcheck racecheck initcheck synccheck}
MODES=${MODES:-native ptx89}
LOGS=${LOGS:-$BUILD/sanitize-logs}

CS=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)}
if [ -z "$CS" ] || [ ! -x "$CS" ]; then
  echo "skip: compute-sanitizer is not on PATH (nor /usr/local/cuda/bin; or set COMPUTE_SANITIZER)"
  exit 77
fi
if [ ! -x "$EXE" ]; then
  echo "$EXE is not built (cmake --build $BUILD)" >&2
  exit 1
fi
# without the tool first: a GPU, and a clean run
"$EXE" >/dev/null
rc=$?
if [ $rc -eq 77 ]; then
  "$EXE" | tail -1
  exit 77
fi
mkdir -p "$LOGS"
failed=0
for mode in $MODES; do
  for tool in $TOOLS; do
    case $tool in
      memcheck) opts=(--leak-check full) ;;
      racecheck) opts=(--racecheck-report all) ;;
      *) opts=() ;;
    esac
    env=()
    [ "$mode" = ptx89 ] && env=(TRITIUM_FORCE_ARCH=89 TRITIUM_FORCE_PTX=1)
    log=$LOGS/$mode-$tool.log
    start=$(date +%s)
    env "${env[@]}" "$CS" --tool "$tool" --error-exitcode 99 "${opts[@]}" "$EXE" >"$log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log" | sed 's/^=* *//' | paste -sd ';' -)
    result=$(grep -E "^sanitize:" "$log" | tail -1)
    printf '%-7s %-10s rc=%-3s %4ss  %s | %s\n' "$mode" "$tool" "$rc" "$took" "${summary:-no summary}" "$result"
    # memcheck, initcheck and synccheck end with "ERROR SUMMARY: N errors"; racecheck with
    # "RACECHECK SUMMARY: H hazards displayed (E errors, W warnings)", whose warnings are
    # not errors. --error-exitcode makes errors fail rc too.
    if [ "$tool" = racecheck ]; then clean="RACECHECK SUMMARY: [0-9]+ hazards? displayed \(0 errors"
    else clean="ERROR SUMMARY: 0 errors"; fi
    if [ $rc -ne 0 ] || ! grep -qE "$clean" "$log"; then
      failed=1
      echo "---- $log (tail)"
      tail -40 "$log"
    fi
  done
done
[ $failed -eq 0 ] && echo "sanitize.sh: all clean" || echo "sanitize.sh: FAILED"
exit $failed
