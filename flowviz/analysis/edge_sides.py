"""What an edge's two sides say: the caller's wait against the callee's work, and the payload sizes, as sentences."""

from __future__ import annotations

import math

from flowviz.model.time_spec import format_latency_ms
from flowviz.store.edge_details import SideFigures


def payload_text(payload: SideFigures | None) -> str:
    """`Payload: p50 1.2 kB · p95 4.0 kB over 600 messages.` ("" when no sizes were counted)."""
    if payload is None or not payload.calls:
        return ""
    return (
        f"Payload: p50 {bytes_text(payload.p50_ms)} · p95 {bytes_text(payload.p95_ms)} over {payload.calls:,} messages."
    )


def bytes_text(size: float) -> str:
    if size < 1000:
        return f"{size:.0f} B"
    if size < 1e6:
        return f"{size / 1e3:.1f} kB"
    return f"{size / 1e6:.1f} MB"


def side_gap_text(sides: dict[str, SideFigures]) -> str:
    """What the difference between the caller's and the callee's p95 says."""
    client, server = sides["client"], sides["server"]
    if not client.calls or not server.calls:
        only = "client" if client.calls else "server" if server.calls else None
        return f"Only the {only} side is measured on this edge." if only else "No latency measured in the window."
    gap = client.p95_ms - server.p95_ms
    if math.isnan(gap):
        return ""
    if gap > max(0.2 * server.p95_ms, 1.0):
        return (
            f"The caller waits {format_latency_ms(gap)} longer at p95 than the callee works: "
            "network, queueing, connection pools or retries."
        )
    if gap < -max(0.1 * server.p95_ms, 1.0):
        return (
            f"The caller's p95 is {format_latency_ms(-gap)} below the callee's: callers give up (timeouts) while "
            "the callee goes on working on calls nobody waits for."
        )
    return "Client and server see about the same latency: the time is spent in the callee."
