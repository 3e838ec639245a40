#!/usr/bin/env bash
# The shipped Slurm batch jobs on a real one-node Slurm started for this test
# (munge + slurmctld + slurmd on localhost, own ports and state folder, so a
# Slurm already running on the machine is left alone):
#   slurm/train_distributed.sbatch: 2 tasks via srun --mpi=pmix, identical
#     parameters on both ranks, a checkpoint;
#   slurm/quail.sbatch: a first job stops after 3 epochs, a second job resumes
#     and finishes every stage.
# Needs root and the packages slurmctld slurmd slurm-client munge
# (launch/install_deps.sh); without them it reports a skip (exit 77).
# Usage: test_slurm.sh path/to/sisyphus
set -uo pipefail
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
source "$HERE/../support/testlib.sh"
if [[ $(id -u) -ne 0 ]] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "skip: needs root and slurmctld/slurmd/munge (launch/install_deps.sh installs them)"
  exit 77
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
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=5
EnforcePartLimits=ALL
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
MailProg=/bin/true
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

sbatch --wait -n 2 -t 5 -o "$WORK/train.out" slurm/train_distributed.sbatch configs/main_job.ini --backend mpi \
  --epochs 1 --run ddp "${DATA[@]}" >/dev/null
rc=$?
if [[ $rc -eq 0 ]] && grep -q "ranks: 2 (mpi backend)" "$WORK/train.out" &&
   grep -q "identical on 2 ranks" "$WORK/train.out" && [[ -f $WORK/ck/ddp/last.h5 ]]; then
  pass "train_distributed.sbatch: 2 srun tasks, identical ranks, checkpoint"
else fail "train_distributed.sbatch (rc $rc)"; tail -20 "$WORK/train.out"; fi

Q=(--teacher "$WORK/ck/ddp/last.h5" --amm --mimic-epochs 1 --finetune-epochs 1 --run q "${DATA[@]}")
sbatch --wait -n 2 -t 5 -o "$WORK/q1.out" slurm/quail.sbatch configs/main_quail.ini "${Q[@]}" --stop-after-epochs 3 >/dev/null
rc1=$?
if [[ $rc1 -eq 0 ]] && grep -q "stopped after 3 epoch" "$WORK/q1.out" && [[ ! -f $WORK/ck/q/mimic-03.h5 ]] &&
   [[ -f $WORK/ck/q/mimic-02.h5 ]]; then pass "quail.sbatch: first job stops after 3 stages"
else fail "quail.sbatch first job (rc $rc1)"; tail -20 "$WORK/q1.out"; fi
sbatch --wait -n 2 -t 5 -o "$WORK/q2.out" slurm/quail.sbatch configs/main_quail.ini "${Q[@]}" >/dev/null
rc2=$?
if [[ $rc2 -eq 0 ]] && grep -q "resume: .*last.h5 after mimic-02" "$WORK/q2.out" &&
   ! grep -q "\[mimic-00\]" "$WORK/q2.out" && grep -q "final: student" "$WORK/q2.out" &&
   [[ -f $WORK/ck/q/finetune-00.h5 ]]; then pass "quail.sbatch: second job resumes at mimic-03 and finishes"
else fail "quail.sbatch second job (rc $rc2)"; tail -20 "$WORK/q2.out"; fi
finish slurm
