"""Starting and stopping the servers under test: conc_server's models and nginx."""

import subprocess

from .nginx import start_nginx
from .processes import PROCS, Server, wait_for
from .procfs import group_members
from .settings import BenchError, MODELS, START_TIMEOUT, STOP_TIMEOUT


def start_conc(binary, model, settings, work, idle_timeout=None, wrap=None):
    """Starts conc_server with -p 0 and reads the port from its announce
    line. wrap (a list) goes before the command, as strace does."""
    args = MODELS[model][0] or ["-m", "thread", "-w", str(settings.pool)]
    argv = [str(binary), "-p", "0", "-d", str(work / "www"), *args]
    if idle_timeout:
        argv += ["-t", str(idle_timeout)]
    argv = settings.cpus.wrap(settings.cpus.server, (wrap or []) + argv)
    out, err = work / ("%s.out" % model), work / ("%s.err" % model)
    # Output goes to files, not pipes: a server that logs every request
    # must never block on a pipe nobody reads, nor be slowed by a terminal.
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = PROCS.start(argv, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
    port = []

    def announced():
        line = out.read_text(errors="replace").split("\n", 1)
        if len(line) == 2 and line[0].startswith("listening on "):
            port.append(int(line[0].rsplit(":", 1)[1]))
            return True
        return proc.poll() is not None

    wait_for(announced, START_TIMEOUT)
    server = Server(model, proc, port[0] if port else None, (out, err))
    if not port:
        PROCS.stop(proc)
        raise BenchError("%s did not announce a port within %.0f s; %s\n%s"
                         % (" ".join(argv), START_TIMEOUT,
                            "it exited with status %s" % proc.returncode
                            if proc.returncode is not None else "still running",
                            server.stderr_tail()))
    return server


def start_server(name, binary, settings, work, idle_timeout=None, wrap=None):
    if name == "nginx":
        return start_nginx(settings, work, idle_timeout or 5, wrap=wrap)
    return start_conc(binary, name, settings, work, idle_timeout, wrap)


def stop_server(server):
    """Stops a server with SIGTERM; returns a note when it misbehaved:
    no exit, an exit status other than 0, or processes of its group still
    running after it exited (children it did not wait for)."""
    pgid = server.proc.pid
    status, took = PROCS.stop(server.proc, kill=False)
    left = group_members(pgid) if status is not None else []
    PROCS.kill_group(server.proc)
    if status is None:
        return "did not exit within %.0f s of SIGTERM (killed)" % STOP_TIMEOUT
    notes = []
    if status != 0 and server.name != "nginx":
        notes.append("exited with status %d after SIGTERM: %s"
                     % (status, server.stderr_tail(2)))
    if left:
        notes.append("%d of its processes still ran after it exited" % len(left))
    return "; ".join(notes)
