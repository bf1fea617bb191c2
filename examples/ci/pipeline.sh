#!/usr/bin/env bash
# The model pipeline of github-actions.yml and gitlab-ci.yml as one script: the same cairn
# commands in the same order (tests/e2e/ci_examples.rs checks that, and runs this script on a
# sample project). Run it from the project's root with `cairn` on PATH.
#
#   MODEL   the [model.NAME] spec to train (required)
#   MAIN    1 on the main branch: promote, push the objects, commit cairn.lock and push it
set -euo pipefail
MODEL="${MODEL:?set MODEL to the [model.NAME] spec to train}"

# The data and feature tables cairn.lock pins, from the default remote.
cairn data pull
# Data, feature views and models as the lock says (exit 1 otherwise).
cairn status --check
# The data's declared expectations ([dataset."PATH"] in cairn.toml).
cairn data validate
# Train and register the version; `candidate` names it for the steps below. (The artifact
# records the commit it was trained at, so each commit gives a new version.)
cairn train "$MODEL" --register --alias candidate
# The deployment gates ([model.NAME.gates]): exit 1 fails the job.
cairn validate "$MODEL@candidate"
if [ "${MAIN:-0}" = 1 ]; then
  cairn models promote "$MODEL@candidate" --to production --reason "CI on $(git rev-parse --short HEAD)"
  # The run record and artifact go to the remote before the lock that pins them.
  cairn data push
  # [skip ci]: the lock's commit must not start this pipeline again.
  git add cairn.lock
  git commit -q -m "cairn: $MODEL@candidate in production [skip ci]"
  git push -q
fi
