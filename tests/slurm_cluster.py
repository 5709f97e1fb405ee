"""A real single-node Slurm cluster for the tests: Debian's munged, slurmctld and slurmd, run as root on this
machine with a generated slurm.conf in a temporary folder (own ports, own munge socket and key), stopped by their
process ids. Without accounting (``AccountingStorageType=accounting_storage/none``) ``sacct`` fails, as on many
small clusters; train-sweep then asks ``scontrol``.

``.ci/run`` installs the packages (``apt-get install slurmctld slurmd slurm-client munge``); where they are missing
:func:`missing` says why, and the tests that need the cluster are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Programs the cluster and the tests need (daemons in /usr/sbin, commands in /usr/bin).
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "srun", "scancel")
_SBIN = ("/usr/sbin", "/sbin", "/usr/bin")


def _which(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in _SBIN if os.access(f"{d}/{name}", os.X_OK)), None)


def missing() -> str | None:
    """Why the test cluster cannot run here (None when it can)."""
    absent = [p for p in PROGRAMS if _which(p) is None]
    if absent:
        return (
            f"Slurm/munge not installed ({', '.join(absent)} missing); .ci/run installs them with "
            "`apt-get install slurmctld slurmd slurm-client munge`"
        )
    if os.geteuid() != 0:
        return "the test cluster runs slurmd as root (jobs run as the submitting user); not root here"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    folder: Path
    conf: Path
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A Slurm command against this cluster."""
        proc = subprocess.run(list(args), capture_output=True, text=True, env=self.env, timeout=60)
        if check and proc.returncode != 0:
            # the command's own words, not only its exit status, in the test's failure
            raise AssertionError(
                f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def job_state(self, job_id: str) -> str | None:
        """The job's state while the scheduler holds it (squeue), None after."""
        out = self.run("squeue", "-h", "-r", "-o", "%i|%T", check=False).stdout
        states = dict(line.split("|", 1) for line in out.split() if "|" in line)
        return states.get(job_id)

    def kill_task(self, job_id: str, signum: int = signal.SIGKILL) -> int:
        """Send ``signum`` to the process of a job's task (as the kernel's out-of-memory killer does to a process;
        ``scancel --signal=KILL`` would cancel the whole job instead). Returns how many processes got it."""
        raw = dict(
            tok.split("=", 1) for tok in self.run("scontrol", "show", "job", "-o", job_id).stdout.split() if "=" in tok
        )["JobId"]
        sent = 0
        for line in self.run("scontrol", "listpids", raw).stdout.splitlines()[1:]:
            pid, _, step, local = line.split()[:4]
            if step != "batch" and local != "-":
                os.kill(int(pid), signum)
                sent += 1
        return sent

    def stop(self) -> None:
        """Cancel every job of this cluster, then stop slurmd, slurmctld and munged by their process ids."""
        self.run("scancel", "--full", "-u", str(os.getuid()), check=False)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.run("squeue", "-h", check=False).stdout.strip():
            time.sleep(0.5)
        for proc in reversed(self.processes):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _node_line(slurmd: str) -> str:
    """This machine as slurmd sees it (NodeName=<host> CPUs=... RealMemory=...)."""
    first = subprocess.run([slurmd, "-C"], capture_output=True, text=True, check=True, timeout=60).stdout
    return first.splitlines()[0].strip()


def _wait_for(predicate, what: str, timeout: float, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    tails = "".join(f"\n--- {p.name}\n" + p.read_text(errors="replace")[-2000:] for p in sorted(logs.glob("*.log")))
    raise RuntimeError(f"test cluster: {what} did not happen within {timeout:.0f} s{tails}")


def start_cluster(folder: Path) -> Cluster:
    """munged, slurmctld and slurmd with their files under ``folder``; returns when the node is idle."""
    folder = folder.resolve()
    munge_dir, state, spool, logs = (folder / n for n in ("munge", "state", "spool", "log"))
    for d in (munge_dir, state, spool, logs):
        d.mkdir(parents=True)
    folder.chmod(0o755)
    munge_dir.chmod(0o755)
    key = munge_dir / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    socket_path = munge_dir / "munge.socket"
    conf = folder / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=biper-test",
                f"SlurmctldHost={socket.gethostname()}(127.0.0.1)",
                "SlurmUser=root",
                "SlurmdUser=root",
                f"SlurmctldPort={free_port()}",
                f"SlurmdPort={free_port()}",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                # cred_expire: a requeued job waits this long (default 120 s) before it may start again
                f"AuthInfo=socket={socket_path},cred_expire=10",
                f"StateSaveLocation={state}",
                f"SlurmdSpoolDir={spool}",
                f"SlurmctldPidFile={folder}/slurmctld.pid",
                f"SlurmdPidFile={folder}/slurmd.pid",
                f"SlurmctldLogFile={logs}/slurmctld.log",
                f"SlurmdLogFile={logs}/slurmd.log",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/none",
                "SchedulerType=sched/backfill",
                "SchedulerParameters=sched_interval=1",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "MpiDefault=none",
                "SwitchType=switch/none",
                "ReturnToService=2",
                "KillWait=5",
                "MinJobAge=600",
                "InactiveLimit=0",
                "MessageTimeout=10",
                f"{_node_line(_which('slurmd'))} NodeAddr=127.0.0.1 State=UNKNOWN",
                f"PartitionName=debug Nodes={socket.gethostname()} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = Cluster(folder, conf, env)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "env": env}
    try:
        cluster.processes.append(
            subprocess.Popen(
                [
                    _which("munged"),
                    "-F",
                    "-f",
                    f"--socket={socket_path}",
                    f"--key-file={key}",
                    f"--log-file={logs}/munged.log",
                    f"--pid-file={munge_dir}/munged.pid",
                    f"--seed-file={munge_dir}/seed",
                ],
                **quiet,
            )
        )
        _wait_for(socket_path.exists, "munged's socket", 20, logs)
        cluster.processes.append(subprocess.Popen([_which("slurmctld"), "-D", "-f", str(conf)], **quiet))
        _wait_for(lambda: cluster.run("scontrol", "ping", check=False).returncode == 0, "slurmctld answering", 30, logs)
        cluster.processes.append(subprocess.Popen([_which("slurmd"), "-D", "-f", str(conf)], **quiet))
        _wait_for(
            lambda: cluster.run("sinfo", "-h", "-o", "%t", check=False).stdout.strip() == "idle",
            "the node becoming idle",
            30,
            logs,
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster
