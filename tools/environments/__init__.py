"""Terminal backends. `manager.get_environment(task_id)` is the entry point; `base` holds the protocol.

    base.py         ExecResult and the Environment protocol every backend implements
    local.py        LocalEnvironment: spawn-per-call bash on this machine
    shell_state.py  the wrapper script that carries cwd and exports from one call to the next
    output.py       bounded head+tail capture of command output
    manager.py      one environment per task_id, backend registry, cleanup at exit
"""
