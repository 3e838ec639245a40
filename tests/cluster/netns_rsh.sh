#!/usr/bin/env bash
# Open MPI's remote shell for the test hosts (plm_rsh_agent), standing in for
# ssh: runs the command in the host's network namespace, under its own host
# name (a UTS namespace), as ssh would on a real node.
#   netns_rsh.sh [ssh-style options] HOST COMMAND...
# HOST is a test host's address (10.77.0.<i>) or name (h<i>); the namespace
# is $SISYPHUS_NETNS_PREFIX<i> (tests/cluster/cluster.sh sets it).
set -eu
while [[ ${1:-} == -* ]]; do shift; done
host=${1:?usage: netns_rsh.sh HOST COMMAND...}
shift
i=${host##*[.h]}
exec nsenter --net="/run/netns/${SISYPHUS_NETNS_PREFIX:?}$i" unshare --uts sh -c "hostname h$i && $*"
