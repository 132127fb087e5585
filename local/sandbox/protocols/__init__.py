"""Gateway protocol plugins for the sandbox: one module per protocol id (see `base`).

The core loads protocol `X` from the module `local.sandbox.protocols.X`, which must define
`Sim`, a `GatewaySim` subclass whose `name` is `X`. Nothing else needs registering.
"""
