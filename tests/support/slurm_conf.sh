# The slurm.conf settings both test clusters share (source it): root runs
# everything, munge authenticates, no cgroups, no accounting, a job starts
# at once and leaves the queue 5 s after it ends (MinJobAge), more tasks than
# CPUs are refused rather than left pending (EnforcePartLimits=ALL), and a
# slurmd may advertise other CPUs than it has (config_overrides).
slurm_common_settings() {
  cat <<'CONF'
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
CONF
}
