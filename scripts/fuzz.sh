#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader with Jazzer, ROUNDS runs of 60 s per fuzz test
# (default 5; each round goes on from the corpus the previous ones grew in .cifuzz-corpus/):
#
#   scripts/fuzz.sh [ROUNDS]
#
# mvn verify runs only each fuzz test's checked-in corpus and a seeded mutation run of it. This
# fuzzes for real, one test at a time (libFuzzer runs once per JVM). A finding fails its test and
# is written into the test's corpus folder (src/test/resources/.../<Test>Inputs/<method>/crash-*):
# fix the reader, rename the file to regression-<what>, and commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
export OPT_OUT_TRACKING=true DJL_OFFLINE=true DJL_DISABLE_PROGRESS_BAR=true JAZZER_FUZZ=1
mvn -q -B -ntp install -DskipTests
targets=(
  "peft-core SafetensorsFuzzTest#readerRefusesBadFilesCleanly"
  "peft-models OnnxFuzzTest#weightsRefuseBadModelsCleanly"
  "peft-models HfConfigFuzzTest#bertConfigRefusesCleanly"
  "peft-models HfConfigFuzzTest#llamaConfigRefusesCleanly"
  "peft-models HfConfigFuzzTest#vitConfigRefusesCleanly"
  "peft-init AdapterConfigFuzzTest#readConfigRefusesCleanly"
  "peft-cli MergeConfigFuzzTest#readRefusesCleanly"
)
status=0
for t in "${targets[@]}"; do
  read -r module test <<< "$t"
  for ((i = 1; i <= rounds; i++)); do
    echo "== $module $test, round $i of $rounds (60 s)"
    if ! mvn -q -B -ntp test -pl "$module" -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false; then
      echo "!! finding in $module $test: see its corpus folder for crash-*" >&2
      status=1
      break
    fi
  done
done
exit $status
