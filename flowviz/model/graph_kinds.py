"""What the nodes and edges of the service graph are: `NodeKind` and the servicegraph `ConnectionType`."""

from __future__ import annotations

from enum import IntEnum


class NodeKind(IntEnum):
    """What a node of the service graph is."""

    SERVICE = 0
    DATABASE = 1
    TOPIC = 2
    EXTERNAL = 3
    USER = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class ConnectionType(IntEnum):
    """The servicegraph connector's `connection_type` vocabulary."""

    DIRECT = 0  # ""
    MESSAGING_SYSTEM = 1
    DATABASE = 2
    VIRTUAL_NODE = 3

    @property
    def label(self) -> str:
        return "" if self is ConnectionType.DIRECT else self.name.lower()
