#!/bin/sh
# The container's start: the project's cairn.toml and cairn.lock (mounted read-only at
# CAIRN_PROJECT, default /etc/cairn) are copied into a writable directory, the model
# versions the lock pins are fetched by digest from the project's default remote (verified as
# they arrive; credentials from the environment, e.g. AWS_*), and `cairn serve` takes over the
# process, so that SIGTERM reaches it and in-flight requests finish.
#
#   CAIRN_MODEL    what to serve, e.g. churn@production (default: every model's production)
#   CAIRN_PROJECT  where cairn.toml and cairn.lock are mounted (default /etc/cairn)
#   CAIRN_WORKDIR  a writable directory for the store (default /srv/cairn/project)
#   HOST           the address to listen on (default 0.0.0.0: every interface of the pod)
#   PORT           the port to listen on (default 8080)
set -eu
source_dir="${CAIRN_PROJECT:-/etc/cairn}"
work="${CAIRN_WORKDIR:-/srv/cairn/project}"
mkdir -p "$work"
cp "$source_dir/cairn.toml" "$source_dir/cairn.lock" "$work/"
cd "$work"
cairn data fetch --models
# shellcheck disable=SC2086 # CAIRN_MODEL may name several versions
exec cairn serve ${CAIRN_MODEL:-} --host "${HOST:-0.0.0.0}" --port "${PORT:-8080}"
