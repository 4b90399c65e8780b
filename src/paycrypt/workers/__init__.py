"""Several server processes on one port (`paycrypt serve --workers N`): the supervisor that starts,
replaces and stops them (supervisor.py), the listening sockets it makes for them (listeners.py), and
what each worker process runs (worker.py). docs/decisions/scale-out.md says why it is built so."""
