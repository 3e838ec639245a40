#!/usr/bin/env bash
# The shipped Slurm batch jobs on a real one-node Slurm started for this test
# (munge + slurmctld + slurmd on localhost, own ports and state folder, so a
# Slurm already running on the machine is left alone):
#   slurm/train_distributed.sbatch: 2 tasks via srun --mpi=pmix, identical
#     parameters on both ranks, a checkpoint;
#   slurm/quail.sbatch: a first job stops after 3 epochs, a second job resumes
#     and finishes every stage.
# Needs root and the packages slurmctld slurmd slurm-client munge
# (launch/install_deps.sh); without them it reports a skip (exit 77; a failure with CI=true).
# Usage: test_slurm.sh path/to/sisyphus
set -uo pipefail
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
source "$HERE/../support/testlib.sh"
source "$HERE/../support/slurm_conf.sh"
if [[ $(id -u) -ne 0 ]] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  skip_test "needs root and slurmctld/slurmd/munge (launch/install_deps.sh installs them)"
fi
WORK=$(mktemp -d)
S=$WORK/slurm
mkdir -p "$S/state" "$S/spool"
started_munge=0
cleanup() {
  for f in "$S/slurmctld.pid" "$S/slurmd.pid"; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done
  [[ $started_munge -eq 1 && -f /run/munge/munged.pid ]] && kill "$(cat /run/munge/munged.pid)" 2>/dev/null
  sleep 1
  rm -rf "$WORK"
}
trap cleanup EXIT

# munge: reuse a running daemon, else start one
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge
  [[ -f /etc/munge/munge.key ]] || { mungekey --create && chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key; }
  su -s /bin/sh munge -c /usr/sbin/munged || { echo "FAIL munged did not start"; exit 1; }
  started_munge=1
  sleep 1
fi
munge -n | unmunge >/dev/null || { echo "FAIL munge does not work"; exit 1; }

export SLURM_CONF=$S/slurm.conf
cat > "$SLURM_CONF" <<CONF
ClusterName=sisyphustest
SlurmctldHost=localhost
SlurmctldPort=6917
SlurmdPort=6918
$(slurm_common_settings)
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
NodeName=localhost CPUs=4 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -f "$SLURM_CONF" || { echo "FAIL slurmctld did not start"; cat "$S/slurmctld.log"; exit 1; }
slurmd -f "$SLURM_CONF" -N localhost || { echo "FAIL slurmd did not start"; cat "$S/slurmd.log"; exit 1; }
for _ in $(seq 40); do [[ $(sinfo -h -o %t 2>/dev/null) == idle ]] && break; sleep 0.5; done
if [[ $(sinfo -h -o %t 2>/dev/null) == idle ]]; then pass "one-node Slurm is up"; else
  fail "Slurm node not idle: $(sinfo 2>&1)"; tail -5 "$S/slurmctld.log" "$S/slurmd.log"; finish slurm; exit; fi

# The batch scripts run build/src/sisyphus from the submit folder.
SUB=$WORK/submit
mkdir -p "$SUB/build/src"
ln -s "$BIN" "$SUB/build/src/sisyphus"
cp -r "$REPO/slurm" "$REPO/configs" "$SUB/"
cd "$SUB"
DATA=(--data-dir /usr/share/datasets/fashion-mnist --train-limit 2000 --test-limit 500 --checkpoint-dir "$WORK/ck")

sbatch --wait -n 2 -t 30 -o "$WORK/train.out" slurm/train_distributed.sbatch configs/main_job.ini --backend mpi \
  --epochs 1 --run ddp "${DATA[@]}" >/dev/null
rc=$?
if [[ $rc -eq 0 ]] && grep -q "ranks: 2 (mpi backend)" "$WORK/train.out" &&
   grep -q "identical on 2 ranks" "$WORK/train.out" && [[ -f $WORK/ck/ddp/last.h5 ]]; then
  pass "train_distributed.sbatch: 2 srun tasks, identical ranks, checkpoint"
else fail "train_distributed.sbatch (rc $rc)"; tail -20 "$WORK/train.out"; fi

Q=(--teacher "$WORK/ck/ddp/last.h5" --amm --mimic-epochs 1 --finetune-epochs 1 --run q "${DATA[@]}")
sbatch --wait -n 2 -t 30 -o "$WORK/q1.out" slurm/quail.sbatch configs/main_quail.ini "${Q[@]}" --stop-after-epochs 3 >/dev/null
rc1=$?
if [[ $rc1 -eq 0 ]] && grep -q "stopped after 3 epoch" "$WORK/q1.out" && [[ ! -f $WORK/ck/q/mimic-03.h5 ]] &&
   [[ -f $WORK/ck/q/mimic-02.h5 ]]; then pass "quail.sbatch: first job stops after 3 stages"
else fail "quail.sbatch first job (rc $rc1)"; tail -20 "$WORK/q1.out"; fi
sbatch --wait -n 2 -t 30 -o "$WORK/q2.out" slurm/quail.sbatch configs/main_quail.ini "${Q[@]}" >/dev/null
rc2=$?
if [[ $rc2 -eq 0 ]] && grep -q "resume: .*last.h5 after mimic-02" "$WORK/q2.out" &&
   ! grep -q "\[mimic-00\]" "$WORK/q2.out" && grep -q "final: student" "$WORK/q2.out" &&
   [[ -f $WORK/ck/q/finetune-00.h5 ]]; then pass "quail.sbatch: second job resumes at mimic-03 and finishes"
else fail "quail.sbatch second job (rc $rc2)"; tail -20 "$WORK/q2.out"; fi

# Requeue of a running job (what preemption does): Slurm sends SIGTERM to
# every task, the ranks stop at one step boundary with a mid-epoch checkpoint
# (exit 75, slurm/resumable.sh), the job starts again and resumes inside the
# epoch; the result equals an uninterrupted job's bitwise.
# Slurm holds a requeued job back (BeginTime about two minutes on); the test
# lets it start once it has pended for that reason 3 s (polled every 0.5 s).
# Sooner, slurmd refuses the start: a credential issued in the second its
# last run's was revoked counts as revoked ("Job credential revoked", FAILED).
held=0
release_requeued() {  # JOBID
  if scontrol -o show job "$1" 2>/dev/null | grep -q "JobState=PENDING Reason=BeginTime"; then
    held=$((held + 1))
    if ((held >= 6)); then scontrol update JobId="$1" StartTime=now 2>/dev/null; held=0; fi
  else
    held=0
  fi
  return 0
}
echo "$(date +%T) requeue test"
P=(--backend mpi --epochs 2 --batch-size 16 --data-dir /usr/share/datasets/fashion-mnist --train-limit 3000
   --test-limit 200 --checkpoint-dir "$WORK/ck")
# (-t 30: the scripts' --signal=B:USR1@300 must not fire during the test)
sbatch --wait -n 2 -t 30 -o "$WORK/pref.out" slurm/train_distributed.sbatch configs/main_job.ini "${P[@]}" \
  --run pref --log-every 0 >/dev/null || { fail "uninterrupted job"; tail -5 "$WORK/pref.out"; }
jid=$(sbatch --parsable -n 2 -t 30 -o "$WORK/pre.out" slurm/train_distributed.sbatch configs/main_job.ini \
  "${P[@]}" --run pre --log-every 1)
for _ in $(seq 1200); do grep -q "epoch 1/2 step 30/" "$WORK/pre.out" 2>/dev/null && break; sleep 0.05; done
scontrol requeue "$jid"
state=
for _ in $(seq 240); do  # the requeued job pends, starts again and completes (2 minutes at most)
  state=$(scontrol -o show job "$jid" 2>/dev/null | grep -o "JobState=[A-Z_]*" | cut -d= -f2)
  [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED ]] && break
  [[ -z $state ]] && grep -q "^final:" "$WORK/pre.out" && break  # record already purged (MinJobAge)
  release_requeued "$jid"
  sleep 0.5
done
# where it stopped: epoch e step k (the signal may take a moment: any epoch)
e=0; k=
read -r e k < <(grep -oE "stopped on SIGTERM at epoch [0-9]+ step [0-9]+" "$WORK/pre.out" | awk '{print $6, $8}')
if [[ -n $k ]] && grep -q "resume: .* after epoch $((e - 1)) and $k steps of the next" "$WORK/pre.out" &&
   grep -q "^final:" "$WORK/pre.out" && "${SISYPHUS_PYTHON:-python3}" - "$WORK/ck/pre/last.h5" "$WORK/ck/pref/last.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
for g in ("model", "optimizer/momentum", "rng"):
    assert all(np.array_equal(a[g][k][()], b[g][k][()]) for k in b[g]), g
PY
then pass "scontrol requeue: SIGTERM stops the job at epoch $e step $k, it restarts, resumes and ends bitwise equal"
else fail "scontrol requeue (state $state, stopped at '${k:-none}')"; tail -n 20 "$S/slurmctld.log"; grep -v "^[a-z-]*=" "$WORK/pre.out" | grep -v "step [0-9]*/" | tail -20; fi

# A time limit that expires: --signal=B:USR1@30 (Slurm sends it up to a
# minute early, so between 30 and 90 s into a 2-minute job) reaches the batch
# shell, which forwards it to srun and the ranks; they stop with their state
# saved and the job requeues itself (a time limit does not), starts again and
# resumes inside the epoch. Then scancel: the job stops again with its state
# saved and, cancelled, is not requeued. (That resumes are bitwise exact is
# the requeue test's; this run is longer than the test waits.)
echo "$(date +%T) time-limit test"
jid=$(sbatch --parsable -n 2 -t 2 --signal=B:USR1@30 -o "$WORK/tl.out" slurm/train_distributed.sbatch \
  configs/main_job.ini --backend mpi --epochs 30 --batch-size 8 --data-dir /usr/share/datasets/fashion-mnist \
  --train-limit 20000 --test-limit 200 --checkpoint-dir "$WORK/ck" --run tl --log-every 50)
resumed=0
for _ in $(seq 360); do  # 3 minutes at most
  state=$(scontrol -o show job "$jid" 2>/dev/null | grep -o "JobState=[A-Z_]*" | cut -d= -f2)
  release_requeued "$jid"
  # resumed, and trained past the resume point
  if grep -A2 "resume: .*tl/last.h5 after epoch [0-9]* and [0-9]* steps" "$WORK/tl.out" 2>/dev/null | grep -q "step [0-9]*/"; then
    resumed=1; break
  fi
  [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED || $state == TIMEOUT ]] && break
  sleep 0.5
done
scancel "$jid"
for _ in $(seq 120); do
  state=$(scontrol -o show job "$jid" 2>/dev/null | grep -o "JobState=[A-Z_]*" | cut -d= -f2)
  [[ $state == PENDING || $state == RUNNING || $state == COMPLETING ]] || break
  sleep 0.5
done
sleep 3  # a requeue would show as PENDING by now
state=$(scontrol -o show job "$jid" 2>/dev/null | grep -o "JobState=[A-Z_]*" | cut -d= -f2)
if [[ $resumed -eq 1 ]] && grep -q "stopped on SIGUSR1 at " "$WORK/tl.out" &&
   grep -q "requeueing job $jid" "$WORK/tl.out" && [[ $(grep -c "stopped on SIGTERM at " "$WORK/tl.out") -eq 1 ]] &&
   [[ $(grep -c "requeueing job" "$WORK/tl.out") -eq 1 ]] && [[ $state == CANCELLED || -z $state ]] &&
   "$BIN" eval --checkpoint "$WORK/ck/tl/last.h5" --data-dir /usr/share/datasets/fashion-mnist --test-limit 200 > /dev/null 2>&1; then
  pass "time limit: stopped on SIGUSR1 with its state, requeued itself, resumed; scancel: stopped, saved, not requeued"
else fail "time limit (resumed $resumed, state $state)"; tail -n 15 "$S/slurmctld.log" "$S/slurmd.log"; grep -v "^[a-z-]*=" "$WORK/tl.out" | grep -v "step [0-9]*/" | tail -20; fi

# The paper's table as a job array, CPU-sized: two networks, one per array
# task (each the whole pipeline with 2 MPI ranks), and the collecting job
# that depends on the array (launch/submit_paper_table.sh).
echo "$(date +%T) table job array"
cp -r "$REPO/launch" "$SUB/"
out=$(SISYPHUS_NETS="mlp lenet" SISYPHUS_DATASET=fashion-mnist SISYPHUS_PREFIX=tbl CHECKPOINT_DIR="$WORK/ck" \
  SISYPHUS_PIPELINE_ARGS="--train-limit 1000 --epochs 1 --mimic-epochs 1 --finetune-epochs 1" \
  bash launch/submit_paper_table.sh -n 2 -c 1 -t 30 -o "$WORK/tbl-%j-%a.out")
collect=$(grep -oE "collecting job [0-9]+" <<<"$out" | grep -oE "[0-9]+$")
for _ in $(seq 600); do  # 5 minutes at most
  state=$(scontrol -o show job "$collect" 2>/dev/null | grep -o "JobState=[A-Z_]*" | cut -d= -f2)
  [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED || -z $state ]] && break
  sleep 0.5
done
table=$WORK/ck/tbl-fashion-mnist-table.md
if [[ -f $table ]] && [[ $(grep -c "^| mlp |\|^| lenet |" "$table") -eq 2 ]] &&
   awk -F'|' '/^\| (mlp|lenet) \|/ { for (i = 3; i <= 8; i++) if ($i !~ /^ *([0-9]+\.[0-9][0-9]( \[[0-9]+\])?|escaped)( \(poly-[^)]*\))? *$/) bad = 1 }
              END { exit bad }' "$table"; then
  pass "paper table job array: 2 networks, one per array task, collected by the dependent job"
else fail "paper table job array ($out; collect state $state)"; cat "$table" "$WORK"/tbl-*.out 2>/dev/null | tail -30; fi
finish slurm
