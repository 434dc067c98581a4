"""The device side, shared by every journey (deploy, isolate, access, accounts, logs, lab).

- :mod:`.target`: how a device is reached (Ansible's connection variables, host-key trust, jump host);
- :mod:`.ssh`: verified SSH connections, one exec round trip, netmiko sessions on the same client;
- :mod:`.agents`: fixed programs run on Linux devices with JSON on stdin (data never becomes a script);
- :mod:`.errors`: typed errors naming device, platform and command;
- one module per platform (``fortios``, ...): drivers turning journeys' operations (quarantine, grants)
  into that platform's commands.
"""

from .errors import CommandError, ConnectError, ConnectionLost, DeployError, HostKeyError
from .target import ConnSettings, HostKeys, Target

__all__ = ["CommandError", "ConnSettings", "ConnectError", "ConnectionLost", "DeployError", "HostKeyError",
           "HostKeys", "Target"]
