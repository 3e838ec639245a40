#!/usr/bin/env bash
# Sourced by the batch scripts: runs one sisyphus command as the job's work
# so that the job survives preemption, `scontrol requeue` and its time limit.
#   resumable_run srun --mpi=pmix build/src/sisyphus ... --resume
#
# - Slurm's SIGTERM (preemption, requeue, scancel) reaches every task
#   directly; the batch shell catches it and waits, so the tasks can stop at a
#   step boundary and write their checkpoint (within KillWait, 30 s by default)
#   instead of being killed with the shell.
# - `#SBATCH --signal=B:USR1@<seconds>` sends SIGUSR1 to this shell before the
#   time limit; it is forwarded to the command (srun and mpirun forward it to
#   every rank), which stops the same way.
# - sisyphus exits 75 when it stopped with its state saved. After the
#   time-limit warning (SIGUSR1) the job requeues itself, since a time limit
#   does not requeue; after SIGTERM Slurm decides (a preempted or requeued
#   job comes back by itself, a cancelled one stays cancelled). The next start
#   goes on with --resume. Any other status is the job's.
resumable_run() {
  "$@" &
  local pid=$! rc warned=0
  trap 'warned=1; kill -USR1 '"$pid"' 2>/dev/null' USR1
  trap 'echo "resumable_run: SIGTERM: waiting for the ranks to save their state"' TERM
  while :; do
    wait "$pid" && rc=0 || rc=$?  # (the batch scripts run under set -e)
    kill -0 "$pid" 2>/dev/null || break  # wait was interrupted by a signal: wait again
  done
  trap - USR1 TERM
  if [[ $rc -eq 75 && $warned -eq 1 && -n ${SLURM_JOB_ID:-} ]]; then
    echo "resumable_run: state saved before the time limit, requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID" || echo "resumable_run: scontrol requeue $SLURM_JOB_ID failed"
  fi
  return "$rc"
}
