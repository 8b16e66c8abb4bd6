"""Terminal backends. `manager.get_environment(task_id)` is the entry point; `base` holds the contract.

    base.py         ExecResult and the Environment base class: every capability callers use
    local.py        LocalEnvironment: spawn-per-call bash on this machine
    shell_state.py  the wrapper script that carries cwd and exports from one call to the next
    output.py       bounded head+tail capture of command output
    manager.py      one environment per task_id, backend registry, idle reaper, cleanup at exit
    remote.py       shared engine for the backends below: a driver script fed on stdin runs the
                    same wrapper remotely, with a watchdog that kills the command where it runs
    docker.py       DockerEnvironment: one hardened container per task
    ssh.py          SSHEnvironment: one OpenSSH control master per task, file transfer
    singularity.py  SingularityEnvironment: one apptainer/singularity instance per task
    modal_env.py    ModalEnvironment + SandboxPool (warm pools, named-sandbox recovery);
                    modal_profiles.py reads the profiles
    settings.py     the TerminalSettings a backend works with (given, else the manager's);
                    sudo.py: SUDO_PASSWORD via sudo -S
"""
