# Shared by the lab control-plane stubs (kubeadm, crictl, docker, systemctl). Sourced, never run.
# The node root is the parent of the directory holding the stubs; all state lives under $LAB so
# every stub, the lab kubelet and the tests agree:
#   lab/version lab/address lab/port lab/node-name lab/node (node binary) lab/components
#   lab/run/<component>.id   64 hex digits while the component "runs" (pod id: first 13, container id: next 12)
#   lab/run/exited           full ids of stopped components, one per line
#   lab/run/kube-apiserver.pid  the real TLS server process; lab/run/kubelet.pid  the lab kubelet
#   lab/fail/renew           kubeadm's renew and phase commands fail, changing nothing
#   lab/fail/no-restart      the lab kubelet never starts the apiserver again once it stopped
#   lab/fail/no-space        df shows every file system full
#   lab/fail/hang-<tool>     <tool> hangs (when the file is not empty: only if its arguments contain the text)
LAB_BIN=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
ROOT=$(dirname -- "$LAB_BIN")
LAB=$ROOT/lab
K=$ROOT/etc/kubernetes
RUN=$LAB/run

lab_hang_check() { # tool args...
  _f=$LAB/fail/hang-$1
  shift
  [ -e "$_f" ] || return 0
  _pat=$(cat "$_f")
  case "$*" in
    *"$_pat"*) exec sleep 86400 ;;
  esac
}

lab_components() { cat "$LAB/components"; }

# A live process (a zombie whose parent has not reaped it yet counts as gone, and so does one
# reaped between the two checks: an unreadable stat is not "alive").
lab_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  _state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$_state" ] && [ "$_state" != Z ]
}

# Whether a component runs now: its id file exists (and for the apiserver, its process is alive).
lab_running() {
  [ -s "$RUN/$1.id" ] || return 1
  if [ "$1" = kube-apiserver ]; then
    lab_alive "$(cat "$RUN/kube-apiserver.pid" 2>/dev/null)" || return 1
  fi
  return 0
}

lab_pod_id() { cut -c1-13 "$RUN/$1.id"; }
lab_container_id() { cut -c14-25 "$RUN/$1.id"; }

# Whether a pod (kind pod) or container (kind container) id belongs to a stopped component.
# Runtimes keep exited ones known, and CRI makes stopping or removing them again a no-op success.
lab_exited() { # kind id
  case "$1" in pod) _cols=1-13 ;; *) _cols=14-25 ;; esac
  cut -c"$_cols" "$RUN/exited" 2>/dev/null | grep -qx -- "$2"
}

# Stop a component's container the way a runtime does; the lab kubelet notices and, while the
# manifest is in manifests/, starts a new one (new ids, and for the apiserver a new process).
lab_stop() {
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
