"""Local sandbox gateways: named instances of real gateway protocols on one HTTP port.

See `local.sandbox.core` for the server, modes and control API, and
`local.sandbox.protocols.base` for the protocol plugin interface.
"""

from local.sandbox.core import MODES, Sandbox, load_protocol, register_protocol

__all__ = ["MODES", "Sandbox", "load_protocol", "register_protocol"]
