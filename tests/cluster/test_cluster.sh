#!/usr/bin/env bash
# Many hosts for real: the real binary trained across 2 and 3 test hosts
# (network namespaces on a bridge, tests/cluster/cluster.sh), so that every
# gradient all-reduce crosses veth interfaces, launched the two ways users
# launch it:
#   - mpirun with a hostfile (launch/mpirun_hosts.sh; the remote shell is
#     tests/cluster/netns_rsh.sh instead of ssh): train on 2 and 3 hosts,
#     quail on 2;
#   - Slurm: a slurmd per host, slurm/train_distributed.sbatch on 2 and 3
#     nodes and slurm/quail.sbatch on 2 (srun --mpi=pmix);
# each checked for identical checksums on every rank, bytes received by the
# hosts' interfaces, and bitwise equality with the same ranks on one host.
# Network faults:
#   - 20 ms added latency each way on a host's link (tests/cluster/delay_link.py,
#     since this kernel has no netem): training completes and
#     equals the clean run bitwise;
#   - the link cut (ip link set down) mid-run: every rank exits non-zero within
#     --peer-timeout and a few seconds, naming the rank it lost; the last
#     checkpoint loads;
#   - a rank SIGKILLed on each of 3 hosts (one inside a checkpoint write): the
#     job ends within 60 s naming it; the last checkpoint loads.
# Needs root, iproute2, /dev/net/tun and util-linux (nsenter, unshare); Slurm parts
# also slurmctld/slurmd/munge. Without namespaces it reports a skip (77).
# Usage: test_cluster.sh path/to/sisyphus
set -uo pipefail
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=${SISYPHUS_PYTHON:-python3}
WORK=$(mktemp -d)
source "$HERE/../support/testlib.sh"
source "$HERE/cluster.sh"
trap 'cluster_down; rm -rf "$WORK"' EXIT
if [[ $(id -u) -ne 0 ]] || ! command -v nsenter >/dev/null || [[ ! -c /dev/net/tun ]] ||
   ! ip netns add "sisprobe$$" 2>/dev/null; then
  skip_test "network namespaces cannot be created here (needs root, iproute2 and util-linux)"
fi
ip netns del "sisprobe$$"
cluster_up 3 || { fail "cluster_up: $(ip -br link 2>&1 | tail -3)"; finish cluster; exit; }
pass "3 test hosts up: $(for i in 1 2 3; do on_host $i sh -c 'echo "$(hostname)=$(ip -4 -br addr show eth0 | awk "{print \$3}")"'; done | tr '\n' ' ')"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI between the hosts: the test network only (TCP for ranks and daemons)
export OMPI_MCA_plm_rsh_agent=$HERE/netns_rsh.sh OMPI_MCA_btl_tcp_if_include=$CL_NET.0/24 \
       OMPI_MCA_oob_tcp_if_include=$CL_NET.0/24
"$PY" "$HERE/../support/make_idx_dataset.py" "$WORK/fm" 2000 200 > /dev/null
C=(--data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --log-every 0 --threads 1)
T=(--net lenet --dataset fashion-mnist --epochs 2 --batch-size 64 "${C[@]}")
Q=(--mimic-epochs 1 --finetune-epochs 1 --amm --batch-size 64 "${C[@]}")  # the data set: the teacher's
printf '[train]\n' > "$WORK/train.ini"  # the batch scripts want a config: every setting is a flag here
printf '[quail]\n' > "$WORK/quail.ini"
for n in 2 3; do seq -f "$CL_NET.%g slots=1" 1 $n > "$WORK/hosts$n"; done

# same A B: model, optimizer state and RNG of two checkpoints bitwise equal
same() {
  "$PY" - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
for g in ("model", "optimizer/momentum", "rng"):
    if g in b:
        for k in b[g]:
            if not np.array_equal(a[g][k][()], b[g][k][()]):
                sys.exit(f"{g}/{k} differs")
PY
}
local_mpirun() { env -u OMPI_MCA_plm_rsh_agent timeout 300 mpirun --oversubscribe --bind-to none "$@"; }

# The reference: the same ranks on one host (this machine's namespace)
for n in 2 3; do
  local_mpirun -np $n "$BIN" train "${T[@]}" --run one$n > "$WORK/one$n.out" 2>&1 ||
    { fail "one-host reference, $n ranks"; tail -5 "$WORK/one$n.out"; }
done
local_mpirun -np 2 "$BIN" quail --teacher "$WORK/ck/one2/last.h5" "${Q[@]}" --run qone > "$WORK/qone.out" 2>&1 ||
  { fail "one-host QuaIL reference"; tail -5 "$WORK/qone.out"; }

# mpirun with a hostfile, launched from host h1 as from a login node
for n in 2 3; do
  before=$(rx_bytes 2)
  start=$(date +%s.%N)
  on_host 1 env SISYPHUS_BIN="$BIN" timeout 300 bash "$REPO/launch/mpirun_hosts.sh" "$WORK/hosts$n" $n \
    "${T[@]}" --run hosts$n > "$WORK/hosts$n.out" 2>&1
  rc=$?
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  got=$(($(rx_bytes 2) - before))
  # at least the gradients: 2 epochs x 32 steps x 44,878 floats reach h2
  if [[ $rc -eq 0 ]] && [[ $(grep -c "(identical on $n ranks)" "$WORK/hosts$n.out") -eq 2 ]] &&
     ((got > 2 * 32 * 44878 * 4)) && same "$WORK/ck/hosts$n/last.h5" "$WORK/ck/one$n/last.h5"; then
    pass "mpirun hostfile, $n hosts: identical ranks, $got bytes into h2's interface, bitwise the one-host run ($secs s)"
  else fail "mpirun hostfile, $n hosts (rc $rc, $got bytes)"; grep -v "^[a-z-]*=" "$WORK/hosts$n.out" | tail -15; fi
done
on_host 1 timeout 300 mpirun --hostfile "$WORK/hosts2" -np 2 --bind-to none \
  "$BIN" quail --teacher "$WORK/ck/one2/last.h5" "${Q[@]}" --run qhosts > "$WORK/qhosts.out" 2>&1
rc=$?
ok=1
for f in "$WORK"/ck/qone/*-0*.h5; do same "$WORK/ck/qhosts/$(basename "$f")" "$f" || ok=0; done
if [[ $rc -eq 0 ]] && [[ $ok -eq 1 ]] && grep -q "final: student" "$WORK/qhosts.out"; then
  pass "mpirun hostfile, quail on 2 hosts: every stage file bitwise the one-host run's"
else fail "mpirun quail on 2 hosts (rc $rc)"; grep -v "^[a-z-]*=" "$WORK/qhosts.out" | tail -15; fi

# Added latency: 20 ms each way on h2's link (a round trip 40 ms longer)
delay_host 2 20 || fail "delay_host 2 20"
rtt=$(on_host 1 python3 - "$CL_NET.2" <<'PY'
import socket, sys, time
t = time.monotonic()
try:
    socket.create_connection((sys.argv[1], 9), timeout=5).close()  # refused: one round trip
except OSError:
    pass
print(f"{(time.monotonic() - t) * 1000:.0f}")
PY
)
start=$(date +%s.%N)
on_host 1 env SISYPHUS_BIN="$BIN" timeout 300 bash "$REPO/launch/mpirun_hosts.sh" "$WORK/hosts2" 2 \
  "${T[@]}" --run slow > "$WORK/slow.out" 2>&1
rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
undelay_host 2 || fail "undelay_host 2"
if [[ $rc -eq 0 ]] && ((rtt >= 40)) && same "$WORK/ck/slow/last.h5" "$WORK/ck/one2/last.h5"; then
  pass "20 ms latency on h2's link (a TCP connect h1->h2 took $rtt ms): completes in $secs s, bitwise the clean run"
else fail "latency (rc $rc, round trip $rtt ms)"; grep -v "^[a-z-]*=" "$WORK/slow.out" | tail -10; fi

# A cut link: h2 drops off the network after the first epoch's checkpoint.
# Every rank writes its status and its last line where the test can see them
# (the shared file system), since h2's output can no longer reach mpirun.
mkdir -p "$WORK/cut"
on_host 1 timeout 120 mpirun --hostfile "$WORK/hosts2" -np 2 --bind-to none bash -c \
  '"$0" "$@" 2> "'"$WORK"'/cut/err-$OMPI_COMM_WORLD_RANK"; echo "$? $(date +%s.%N)" > "'"$WORK"'/cut/rc-$OMPI_COMM_WORLD_RANK"' \
  "$BIN" train --net lenet --dataset fashion-mnist --epochs 50 --batch-size 16 "${C[@]}" --run cut --peer-timeout 5 \
  > "$WORK/cut.out" 2>&1 &
mpirun_pid=$!
for _ in $(seq 600); do [[ -f $WORK/ck/cut/last.h5 ]] && break; sleep 0.1; done
ip -n "$CL_NS"2 link set eth0 down
cut_at=$(date +%s.%N)
for _ in $(seq 300); do [[ -f $WORK/cut/rc-0 && -f $WORK/cut/rc-1 ]] && break; sleep 0.1; done
kill "$mpirun_pid" 2>/dev/null
ok=1; why=
for r in 0 1; do
  read -r rc at < "$WORK/cut/rc-$r" 2>/dev/null || { ok=0; why+=" rank $r: no status"; continue; }
  after=$(echo "$at - $cut_at" | bc)
  lost=$((1 - r))
  # --peer-timeout 5 plus one heartbeat interval and the exit, with the margin
  # the faults test states for a loaded machine: 5 + 4 s
  if [[ $rc -eq 0 ]] || (($(echo "$after > 5 + 4" | bc))) ||
     ! grep -q "\[rank $r\] lost rank $lost (host h$((lost + 1)), $CL_NET.$((lost + 1)))" "$WORK/cut/err-$r"; then
    ok=0; why+=" rank $r: rc $rc after $after s: $(tail -n 1 "$WORK/cut/err-$r")"
  else why+=" rank $r exit $rc after $after s;"; fi
done
ip -n "$CL_NS"2 link set eth0 up
if [[ $ok -eq 1 ]] && "$BIN" eval --checkpoint "$WORK/ck/cut/last.h5" --data-dir "$WORK/fm" > "$WORK/cut-eval.out" 2>&1; then
  pass "cut link:$why each naming the lost rank and host; the last checkpoint loads"
else fail "cut link:$why"; tail -3 "$WORK/cut-eval.out"; fi

# A rank SIGKILLed on its host, 3 hosts: rank 1 (on h2) and rank 2 (on h3) at
# a random time after the first checkpoint, rank 0 (on h1) inside a checkpoint
# write. The job ends within 60 s, non-zero, the output names the lost rank,
# and the last checkpoint loads.
ok=0; why=
for victim in 1 2 0; do
  rm -rf "$WORK/ck/kh"
  on_host 1 timeout 120 mpirun --hostfile "$WORK/hosts3" -np 3 --bind-to none "$BIN" train --net lenet \
    --dataset fashion-mnist --epochs 50 --batch-size 24 "${C[@]}" --run kh > "$WORK/kh.out" 2>&1 &
  mpirun_pid=$!
  while alive "$mpirun_pid" && [[ ! -f $WORK/ck/kh/last.h5 ]]; do sleep 0.1; done
  await_kill_moment "$WORK/ck/kh" $((victim == 0)) "$mpirun_pid"
  kill_rank_and_wait kh $victim "$mpirun_pid" "$WORK/kh.out"
  if ((victim == 0 && !write_seen)); then
    why+=" [rank 0: no checkpoint write seen before the run ended]"
  elif [[ $ended_ok -eq 1 ]] &&
     "$BIN" eval --checkpoint "$WORK/ck/kh/last.h5" --data-dir "$WORK/fm" > /dev/null 2>&1; then
    ok=$((ok + 1)); why+=" rank $victim (h$((victim + 1))$( ((victim == 0)) && echo ", in a checkpoint write")) ended in ${secs}s;"
  else why+=" [rank $victim pid '$killed_pid' rc $rc after ${secs}s: $(grep -iE "rank|error" "$WORK/kh.out" | tail -2 | tr '\n' ' ')]"; fi
done
if [[ $ok -eq 3 ]]; then pass "a rank SIGKILLed on its host (3 hosts):$why named, the last checkpoint loads"
else fail "rank killed on another host: $ok of 3$why"; fi

# Slurm across the hosts: the shipped batch scripts, srun --mpi=pmix
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  if [[ ${CI:-} == true ]]; then fail "CI=true: the Slurm parts cannot run (slurmctld/slurmd/munge not installed)"
  else echo "(Slurm parts skipped: slurmctld/slurmd/munge not installed)"; fi
elif ! slurm_up; then
  fail "Slurm on the test hosts: $(sinfo 2>&1 | tail -2)"; tail -n 5 "$CL_SLURM"/*.log
else
  pass "Slurm: slurmctld on the bridge, a slurmd on each of h1..h3, all idle"
  SUB=$WORK/submit
  mkdir -p "$SUB/build/src"
  ln -s "$BIN" "$SUB/build/src/sisyphus"
  cp -r "$REPO/slurm" "$REPO/configs" "$SUB/"
  cd "$SUB"
  for n in 2 3; do
    sbatch --wait -N $n -n $n --ntasks-per-node=1 -t 30 -o "$WORK/sb$n.out" \
      --export=ALL,OMPI_MCA_btl_tcp_if_include=$CL_NET.0/24 \
      slurm/train_distributed.sbatch "$WORK/train.ini" --backend mpi "${T[@]}" --run sb$n > /dev/null
    rc=$?
    if [[ $rc -eq 0 ]] && [[ $(grep -c "(identical on $n ranks)" "$WORK/sb$n.out") -eq 2 ]] &&
       same "$WORK/ck/sb$n/last.h5" "$WORK/ck/one$n/last.h5"; then
      pass "train_distributed.sbatch on $n nodes (srun --mpi=pmix): identical ranks, bitwise the one-host run"
    else fail "train_distributed.sbatch on $n nodes (rc $rc)"; grep -v "^[a-z-]*=" "$WORK/sb$n.out" | tail -15; fi
  done
  sbatch --wait -N 2 -n 2 --ntasks-per-node=1 -t 30 -o "$WORK/sbq.out" \
    --export=ALL,OMPI_MCA_btl_tcp_if_include=$CL_NET.0/24 \
    slurm/quail.sbatch "$WORK/quail.ini" --teacher "$WORK/ck/one2/last.h5" "${Q[@]}" --run sbq > /dev/null
  rc=$?
  ok=1
  for f in "$WORK"/ck/qone/*-0*.h5; do same "$WORK/ck/sbq/$(basename "$f")" "$f" || ok=0; done
  if [[ $rc -eq 0 && $ok -eq 1 ]]; then pass "quail.sbatch on 2 nodes: every stage file bitwise the one-host run's"
  else fail "quail.sbatch on 2 nodes (rc $rc)"; grep -v "^[a-z-]*=" "$WORK/sbq.out" | tail -15; fi

  # The ResNet-50/TinyImageNet pipeline script, CPU-sized (LeNet on a small
  # pack in TinyImageNet's format), on 2 nodes with each launcher
  "$PY" "$HERE/../support/make_tiny_pack.py" "$WORK/tiny.h5" 1 1 200
  for launcher in srun mpirun; do
    SISYPHUS_LAUNCHER=$launcher SISYPHUS_RUN=r50-$launcher CHECKPOINT_DIR=$WORK/ck SISYPHUS_DATA_DIR=$WORK/tiny.h5 \
    SISYPHUS_TRAIN_ARGS="--net lenet --epochs 1 --log-every 0" SISYPHUS_QUAIL_ARGS="--mimic-epochs 1 --finetune-epochs 1 --log-every 0" \
      sbatch --wait -N 2 -n 2 --ntasks-per-node=1 -c 1 -t 30 -o "$WORK/r50-$launcher.out" \
      --export=ALL,OMPI_MCA_btl_tcp_if_include=$CL_NET.0/24,OMPI_MCA_oob_tcp_if_include=$CL_NET.0/24 \
      slurm/resnet50_tiny.sbatch > /dev/null
    rc=$?
    res=$WORK/ck/r50-$launcher-results.csv
    if [[ $rc -eq 0 ]] && grep -q "ranks: 2 (mpi backend)" "$WORK/r50-$launcher.out" &&
       [[ $(grep -c "(identical on 2 ranks)" "$WORK/r50-$launcher.out") -ge 3 ]] &&
       grep -q "^quail+amm," "$res" && grep -q "^quail+mm," "$res" && grep -q "quail+amm" "$WORK/r50-$launcher.out"; then
      pass "resnet50_tiny.sbatch (CPU-sized) on 2 nodes via $launcher: baseline, QuaIL+AMM, AMM/MM evaluation and trace"
    else fail "resnet50_tiny.sbatch via $launcher (rc $rc)"; grep -v "^[a-z-]*=" "$WORK/r50-$launcher.out" | tail -20; fi
  done
  cd "$WORK"
fi

cluster_down
left=$(cluster_leftovers)
if [[ -z $left ]]; then pass "torn down: no namespace, link or daemon left"
else fail "left behind: $left"; fi
finish cluster
