# Shared by the lab control-plane stubs (kubeadm, crictl, docker, systemctl, df). Sourced, never run.
# The node root is the parent of the directory holding the stubs; all state lives under $LAB so
# every stub, the lab kubelet and the tests agree:
#   lab/version lab/address lab/port lab/node-name lab/node (node binary) lab/components
#   lab/workloads            other pods the runtime runs, one "KEY POD NAMESPACE CONTAINER LABELS" a
#                            line (KEY is NAMESPACE_POD); no manifest controls them: they run until stopped
#   lab/run/<key>.id         64 hex digits while that pod "runs" (a component's key is its name):
#                            pod id = chars 1-13, container id = 14-25, pod uid = 26-57
#   lab/run/exited           full ids of stopped pods, one per line
#   lab/run/kube-apiserver.pid  the real TLS server process; lab/run/kubelet.pid  the lab kubelet
#   lab/fail/renew           kubeadm's renew and phase commands fail, changing nothing
#   lab/fail/renew-partial   kubeadm writes the first certificate or kubeconfig of its command, then fails
#   lab/fail/no-restart      the lab kubelet never starts the apiserver again once it stopped
#   lab/fail/no-stop         nothing stops: the kubelet ignores removed manifests, rmp/stopp/stop do nothing
#   lab/fail/no-space        df shows every file system full
#   lab/fail/hang-<tool>     <tool> hangs      } when the file is not empty: only if the tool's
#   lab/fail/exit-<tool>     <tool> exits 1    } arguments contain its text
LAB_BIN=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(dirname -- "$LAB_BIN")
LAB=$ROOT/lab
K=$ROOT/etc/kubernetes
RUN=$LAB/run

# Whether failure switch $1 is on for these arguments ($2: the tool's arguments as one string).
lab_switched() {
  [ -e "$LAB/fail/$1" ] || return 1
  _pat=$(cat "$LAB/fail/$1")
  case "$2" in
    *"$_pat"*) return 0 ;;
  esac
  return 1
}

# What each tool says when what it talks to is down.
lab_unavailable() {
  case "$1" in
    crictl) echo 'FATA[0000] validate service connection: validate CRI v1 runtime API for endpoint "unix:///run/containerd/containerd.sock": rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial unix /run/containerd/containerd.sock: connect: connection refused"' ;;
    docker) echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' ;;
    systemctl) echo 'Failed to connect to bus: No such file or directory' ;;
    *) echo "$1: lab: injected failure (lab/fail/exit-$1)" ;;
  esac
}

lab_fault_check() { # tool args...
  _tool=$1
  shift
  if lab_switched "hang-$_tool" "$*"; then exec sleep 86400; fi
  if lab_switched "exit-$_tool" "$*"; then
    lab_unavailable "$_tool" >&2
    exit 1
  fi
}

lab_components() { cat "$LAB/components"; }

# Every pod the runtime knows, one "KEY POD NAMESPACE CONTAINER LABELS" a line (LABELS: the pod's
# own, comma-separated k=v). A static pod is named <component>-<node>, as the kubelet names it, with
# kubeadm's labels.
lab_units() {
  _node=$(cat "$LAB/node-name")
  for _c in $(lab_components); do
    echo "$_c $_c-$_node kube-system $_c component=$_c,tier=control-plane"
  done
  if [ -s "$LAB/workloads" ]; then cat "$LAB/workloads"; fi
}

# A live process (a zombie whose parent has not reaped it yet counts as gone, and so does one
# reaped between the two checks: an unreadable stat is not "alive").
lab_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  _state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$_state" ] && [ "$_state" != Z ]
}

# Whether a pod runs now: its id file exists (and for the apiserver, its process is alive).
lab_running() {
  [ -s "$RUN/$1.id" ] || return 1
  if [ "$1" = kube-apiserver ]; then
    lab_alive "$(cat "$RUN/kube-apiserver.pid" 2>/dev/null)" || return 1
  fi
  return 0
}

lab_pod_id() { cut -c1-13 "$RUN/$1.id"; }
lab_container_id() { cut -c14-25 "$RUN/$1.id"; }
lab_pod_uid() { cut -c26-57 "$RUN/$1.id"; }

# Whether a pod (kind pod) or container (kind container) id belongs to a stopped pod.
# Runtimes keep exited ones known, and CRI makes stopping or removing them again a no-op success.
lab_exited() { # kind id
  case "$1" in pod) _cols=1-13 ;; *) _cols=14-25 ;; esac
  cut -c"$_cols" "$RUN/exited" 2>/dev/null | grep -qx -- "$2"
}

# Whether every k=v of $2 (comma-separated) is among the labels $1 (comma-separated): label
# filters match exactly, key and value.
lab_has_labels() {
  _want=$2
  while [ -n "$_want" ]; do
    _one=${_want%%,*}
    case ",$1," in *",$_one,"*) ;; *) return 1 ;; esac
    case "$_want" in *,*) _want=${_want#*,} ;; *) _want='' ;; esac
  done
}

# Whether $1 matches the regular expression $2 (unanchored, as Go's regexp.MatchString).
lab_matches() { printf '%s\n' "$1" | grep -Eq -- "$2"; }

# Stop a pod's container the way a runtime does; for a component the lab kubelet notices and, while
# the manifest is in manifests/, starts a new one (new ids, and for the apiserver a new process).
# Under lab/fail/no-stop nothing stops.
lab_stop() {
  [ ! -e "$LAB/fail/no-stop" ] || return 0
  if [ "$1" = kube-apiserver ]; then
    _pid=$(cat "$RUN/kube-apiserver.pid" 2>/dev/null || true)
    if lab_alive "$_pid"; then
      kill "$_pid" 2>/dev/null || true
      _i=0
      while lab_alive "$_pid" && [ "$_i" -lt 50 ]; do
        sleep 0.1
        _i=$((_i + 1))
      done
      if lab_alive "$_pid"; then kill -9 "$_pid" 2>/dev/null || true; fi
    fi
  fi
  # The kubelet owns the id files of a live apiserver; for the others removing the id is the stop.
  # A stopped container stays known as exited (see retire() in lab-kubelet.mjs).
  if [ "$1" != kube-apiserver ]; then
    cat "$RUN/$1.id" >>"$RUN/exited" 2>/dev/null || true
    rm -f "$RUN/$1.id"
  fi
}
