# A multi-host test cluster on this machine (source it; needs root and iproute2):
# every host is a network namespace with its own address on a bridge, reached
# through a veth pair, and runs under its own host name (a UTS namespace), so
# that MPI traffic between ranks on different hosts crosses real network
# interfaces. The file system stays shared, as on a cluster with a shared
# home. With Slurm: one slurmctld on the bridge, a slurmd per host, munge
# shared (its socket is a file).
#
#   cluster_up N          hosts h1..hN at 10.77.0.1..N (the bridge: .254)
#   slurm_up              slurmctld + a slurmd per host; sbatch/srun/scontrol then use it
#   on_host I CMD...      runs CMD on host hI (its namespace and host name)
#   rx_bytes I            bytes received so far by host hI's interface
#   delay_host I MS       host hI's link replaced by one that delays every frame MS ms each
#                         way (tests/cluster/delay_link.py: netem is not in every kernel)
#   undelay_host I        back to the plain link
#   cluster_down          everything stopped by PID and namespace name, nothing left
#   cluster_leftovers     what cluster_down left behind (empty when all is gone)
#
# Names carry this shell's PID, so that a second cluster (or one left by a
# killed run) is never touched. Expects WORK (a scratch folder).
CL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$CL_HERE/../support/slurm_conf.sh"
CL_ID=$$
CL_NET=10.77.0
CL_BRIDGE=sisbr$CL_ID
CL_NS=sis${CL_ID}h          # namespaces sis<pid>h1, sis<pid>h2, ...
CL_HOSTS=0
CL_SLURM=
CL_STARTED_MUNGE=0
declare -A CL_DELAY_PID=()

# host I's interface eth0 ($CL_NET.I, MAC MAC when given), a veth into the bridge
link_host() {  # I [MAC]
  local i=$1
  ip link add "sv${CL_ID}h$i" type veth peer name eth0 netns "$CL_NS$i" &&
    ip link set "sv${CL_ID}h$i" master "$CL_BRIDGE" up || return 1
  [[ -z ${2:-} ]] || ip -n "$CL_NS$i" link set eth0 address "$2" || return 1
  ip -n "$CL_NS$i" addr add "$CL_NET.$i/24" dev eth0 && ip -n "$CL_NS$i" link set eth0 up
}

cluster_up() {  # N
  local n=$1 i
  ip link add "$CL_BRIDGE" type bridge || return 1
  ip addr add "$CL_NET.254/24" dev "$CL_BRIDGE" && ip link set "$CL_BRIDGE" up || return 1
  for ((i = 1; i <= n; i++)); do
    ip netns add "$CL_NS$i" || return 1
    CL_HOSTS=$i
    link_host "$i" && ip -n "$CL_NS$i" link set lo up || return 1
  done
  export SISYPHUS_NETNS_PREFIX=$CL_NS  # for tests/cluster/netns_rsh.sh
}

mac_of() { ip -n "$CL_NS$1" -br link show eth0 | awk '{print $3}'; }

# The same address and MAC (the other hosts' ARP caches stay right), a
# delaying link instead of the veth.
delay_host() {  # I MS
  local i=$1 mac ht=sd${CL_ID}h$1 bt=sb${CL_ID}h$1
  mac=$(mac_of "$i")
  ip -n "$CL_NS$i" link del eth0 || return 1  # the veth pair goes
  python3 "$CL_HERE/delay_link.py" "$ht" "$bt" "$2" > "$WORK/delay-h$i.log" 2>&1 &
  CL_DELAY_PID[$i]=$!
  for _ in $(seq 100); do grep -q ready "$WORK/delay-h$i.log" 2>/dev/null && break; sleep 0.05; done
  ip link set "$ht" netns "$CL_NS$i" && ip -n "$CL_NS$i" link set "$ht" name eth0 &&
    ip -n "$CL_NS$i" link set eth0 address "$mac" &&
    ip -n "$CL_NS$i" addr add "$CL_NET.$i/24" dev eth0 && ip -n "$CL_NS$i" link set eth0 up &&
    ip link set "$bt" master "$CL_BRIDGE" up
}

undelay_host() {  # I
  local i=$1 mac
  mac=$(mac_of "$i")
  kill "${CL_DELAY_PID[$i]}" 2>/dev/null && wait "${CL_DELAY_PID[$i]}" 2>/dev/null
  unset "CL_DELAY_PID[$i]"
  ip -n "$CL_NS$i" link del eth0 2>/dev/null  # (gone already with the process's devices)
  link_host "$i" "$mac"
}

# nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup
# file system slurmd looks for.
on_host() {  # I CMD...
  local i=$1
  shift
  nsenter --net="/run/netns/$CL_NS$i" unshare --uts sh -c 'hostname "$0" && exec "$@"' "h$i" "$@"
}

rx_bytes() { ip -n "$CL_NS$1" -s -j link show eth0 | grep -oE '"rx":\{"bytes":[0-9]+' | grep -oE '[0-9]+$'; }

slurm_up() {
  CL_SLURM=$WORK/cluster-slurm
  local s=$CL_SLURM i nodes
  mkdir -p "$s/state"
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    [[ -f /etc/munge/munge.key ]] || { mungekey --create && chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key; }
    su -s /bin/sh munge -c /usr/sbin/munged || return 1
    CL_STARTED_MUNGE=1
    sleep 1
  fi
  export SLURM_CONF=$s/slurm.conf
  # The PMIx plugin and the step daemons keep per-node files under TmpFS and
  # SlurmdSpoolDir: one of each per host (%n), as separate machines have.
  cat > "$SLURM_CONF" <<CONF
ClusterName=sisyphusnet
SlurmctldHost=$(hostname)($CL_NET.254)
SlurmctldPort=6927
SlurmdPort=6928
$(slurm_common_settings)
StateSaveLocation=$s/state
SlurmdSpoolDir=$s/spool/%n
TmpFS=$s/tmp/%n
SlurmctldPidFile=$s/slurmctld.pid
SlurmdPidFile=$s/slurmd-%n.pid
SlurmctldLogFile=$s/slurmctld.log
SlurmdLogFile=$s/slurmd-%n.log
CONF
  for ((i = 1; i <= CL_HOSTS; i++)); do
    mkdir -p "$s/spool/h$i" "$s/tmp/h$i"
    echo "NodeName=h$i NodeAddr=$CL_NET.$i CPUs=2 RealMemory=1000 State=UNKNOWN" >> "$SLURM_CONF"
  done
  nodes=$(seq -s, -f "h%g" 1 "$CL_HOSTS")
  echo "PartitionName=net Nodes=$nodes Default=YES MaxTime=INFINITE State=UP" >> "$SLURM_CONF"
  slurmctld -f "$SLURM_CONF" || return 1
  for ((i = 1; i <= CL_HOSTS; i++)); do on_host "$i" slurmd -f "$SLURM_CONF" -N "h$i" || return 1; done
  for _ in $(seq 40); do
    [[ $(sinfo -h -o "%D %t" 2>/dev/null) == "$CL_HOSTS idle" ]] && return 0
    sleep 0.5
  done
  return 1
}

cluster_down() {
  local i f pids
  if [[ -n $CL_SLURM ]]; then
    for f in "$CL_SLURM"/slurmd-*.pid "$CL_SLURM/slurmctld.pid"; do
      [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null
    done
  fi
  for i in "${!CL_DELAY_PID[@]}"; do
    kill "${CL_DELAY_PID[$i]}" 2>/dev/null && wait "${CL_DELAY_PID[$i]}" 2>/dev/null  # its TAP devices go with it
  done
  CL_DELAY_PID=()
  for ((i = 1; i <= CL_HOSTS; i++)); do
    # whatever still runs on the host (ranks, orted, step daemons)
    pids=$(ip netns pids "$CL_NS$i" 2>/dev/null)
    [[ -n $pids ]] && kill -9 $pids 2>/dev/null
  done
  sleep 0.5
  for ((i = 1; i <= CL_HOSTS; i++)); do
    # the veth pair first: a namespace's devices go with it only later (the
    # kernel frees a deleted namespace in the background)
    ip link del "sv${CL_ID}h$i" 2>/dev/null
    ip netns del "$CL_NS$i" 2>/dev/null
  done
  ip link del "$CL_BRIDGE" 2>/dev/null
  [[ $CL_STARTED_MUNGE -eq 1 && -f /run/munge/munged.pid ]] && kill "$(cat /run/munge/munged.pid)" 2>/dev/null
  CL_STARTED_MUNGE=0
  CL_HOSTS=0
  return 0
}

cluster_leftovers() {
  ip netns list 2>/dev/null | grep "^$CL_NS"
  ip -br link 2>/dev/null | grep -E "^(s[vdb]${CL_ID}h|$CL_BRIDGE)"
  [[ -n $CL_SLURM ]] && pgrep -f "$CL_SLURM/slurm.conf" | sed 's/^/process /'
  return 0
}
