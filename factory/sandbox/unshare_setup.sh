#!/bin/sh
# The local sandbox's fallback where bubblewrap is missing, run by util-linux `unshare` in new mount, PID, network,
# IPC and UTS namespaces (plus a user namespace when not root). It builds a root that holds only /usr, /bin, /lib*,
# a few /etc files, the interpreter's prefix and the harness (all read-only), a private /tmp, the new PID
# namespace's /proc and five device nodes; pivots into it; and starts the harness init (PID 1: it reaps orphans)
# and the worker with no capability beyond setuid, setgid and kill (children drop to a uid of their own).
# Usage: unshare_setup.sh NEW_ROOT HARNESS_DIR TMP_MB PYTHON [PREFIX...]
# NEW_ROOT is an empty host folder: a tmpfs is mounted on it, seen only in this mount namespace (a folder of its
# own, so that it hides none of the paths bound into it).
set -eu
R=$1 harness=$2 tmp_mb=$3 python=$4
shift 4
mount --make-rprivate /
mount -t tmpfs -o mode=0755 none "$R"

bind_ro() {
  if [ -L "$1" ]; then ln -s "$(readlink "$1")" "$R$1"; return 0; fi
  if [ -d "$1" ]; then mkdir -p "$R$1"; elif [ -e "$1" ]; then mkdir -p "$R$(dirname "$1")"; : > "$R$1"; else return 0; fi
  mount --rbind "$1" "$R$1"
  mount -o remount,bind,ro "$R$1"
}
for path in /usr /bin /sbin /lib /lib32 /lib64 /etc/ld.so.cache /etc/ld.so.conf /etc/localtime /etc/passwd \
            /etc/group /etc/nsswitch.conf "$@"; do
  bind_ro "$path"
done
mkdir -p "$R/sandbox/harness" "$R/tmp" "$R/proc" "$R/dev" "$R/.old"
mount --bind "$harness" "$R/sandbox/harness" && mount -o remount,bind,ro "$R/sandbox/harness"
mount -t tmpfs -o "size=${tmp_mb}m,mode=1777,nosuid,nodev" none "$R/tmp"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
for node in null zero full random urandom; do
  : > "$R/dev/$node" && mount --bind "/dev/$node" "$R/dev/$node"
done
cd "$R"
pivot_root . .old
umount -l /.old && rmdir /.old
mount -o remount,bind,ro /
cd /tmp
exec setpriv --bounding-set=-all,+setuid,+setgid,+kill --inh-caps=-all -- \
  "$python" -I -B /sandbox/harness/harness.py init "$python" -I -B /sandbox/harness/harness.py worker
