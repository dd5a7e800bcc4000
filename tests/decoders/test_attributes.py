"""The attribute rules' vectorised helpers against their plain definitions."""

from __future__ import annotations

import random

import numpy as np
import pytest

from flowviz.decoders import attributes
from flowviz.decoders.attributes import _NO_RANK, _first_by_rank


def first_by_rank_plainly(rows: np.ndarray, ranks: np.ndarray) -> dict[int, int]:
    """Row -> index of its best-ranked triple, the first one on ties."""
    best: dict[int, int] = {}
    for index, (row, rank) in enumerate(zip(rows.tolist(), ranks.tolist(), strict=True)):
        if rank < _NO_RANK and (row not in best or rank < ranks[best[row]]):
            best[row] = index
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("in_order", [True, False])
def test_first_by_rank(seed: int, in_order: bool) -> None:
    rng = random.Random(seed)
    size = rng.choice([0, 1, 5, 300])
    rows = np.array(sorted(rng.randrange(40) for _ in range(size)), np.int64)
    if not in_order:
        rng.shuffle(rows)
    ranks = np.array([rng.choice([0, 1, 2, 5, _NO_RANK]) for _ in range(size)], np.int64)
    best_rows, best_index = _first_by_rank(rows, ranks)
    expected = first_by_rank_plainly(rows, ranks)
    assert best_rows.tolist() == sorted(expected)
    assert best_index.tolist() == [expected[row] for row in sorted(expected)]


class Wrapped:
    def __init__(self, value: object) -> None:
        self.value = value

    def scalar(self) -> object:
        return self.value


def test_values_are_unwrapped_only_when_wrapped() -> None:
    plain = ["a", 1, 2.5, True, b"x", None]
    assert attributes._plain_values(plain) is plain
    assert attributes._plain_values([*plain, Wrapped("w")]) == [*plain, "w"]


def test_rules_read_lists_and_object_arrays_alike() -> None:
    codes = [attributes.ATTRIBUTE_CODES[k] for k in ("db.system", "peer.service", "http.status_code", "error")]
    rows, values = [0, 0, 1, 2], ["pg", "billing", "503", "true"]
    as_array = np.empty(len(values), object)
    as_array[:] = values
    for given in (values, as_array):
        out = attributes.resolve_attributes(3, np.array(rows), np.array(codes), given)
        assert out.peer_rows.tolist() == [0]
        assert out.peer_values == ["billing"]
        assert out.peer_kind.tolist() == [attributes.PeerKind.DATABASE, 0, 0]
        assert out.http_status.tolist() == [0, 503, 0]
        assert out.tag_error.tolist() == [False, False, True]


def _peer_kinds(spans: list[dict[str, object]]) -> list[tuple[str, int]]:
    """(peer name, PeerKind) of each span from its attributes, through the one rule set."""
    rows, codes, values = [], [], []
    for row, span in enumerate(spans):
        for key, value in span.items():
            rows.append(row)
            codes.append(attributes.ATTRIBUTE_CODES[key])
            values.append(value)
    out = attributes.resolve_attributes(len(spans), rows, codes, values)
    names = dict(zip(out.peer_rows.tolist(), out.peer_values, strict=True))
    return [(str(names.get(row, "")), int(out.peer_kind[row])) for row in range(len(spans))]


def test_third_party_peers_are_external_by_their_public_host_whatever_names_them() -> None:
    from flowviz.model.span_batch import PeerKind

    kinds = _peer_kinds(
        [
            {"peer.service": "stripe-api", "server.address": "api.stripe.com"},  # named, but a public host
            {"peer.service": "sendgrid", "url.full": "https://api.sendgrid.com/v3/mail/send"},
            {"server.address": "ml-inference.internal"},  # an address of our own: an uninstrumented service
            {"server.address": "payments"},  # a single label: in the cluster
            {"server.address": "orders.shop.svc.cluster.local"},
            {"server.address": "10.2.3.4:8080"},
            {"server.address": "8.8.8.8"},
            {"peer.service": "ledger"},  # no address: as named
            {"db.system": "postgresql", "server.address": "db.example.com"},  # a database stays one
            {"server.address": "api.example.test"},
        ]
    )
    assert kinds == [
        ("stripe-api", PeerKind.EXTERNAL),
        ("sendgrid", PeerKind.EXTERNAL),
        ("ml-inference.internal", PeerKind.SERVICE),
        ("payments", PeerKind.SERVICE),
        ("orders.shop.svc.cluster.local", PeerKind.SERVICE),
        ("10.2.3.4:8080", PeerKind.SERVICE),
        ("8.8.8.8", PeerKind.EXTERNAL),
        ("ledger", PeerKind.SERVICE),
        ("postgresql", PeerKind.DATABASE),
        ("api.example.test", PeerKind.EXTERNAL),
    ]


def test_peer_kinds_by_address_without_urls_and_with_values_that_are_not_text() -> None:
    from flowviz.model.span_batch import PeerKind

    # no URL attribute in the batch (addresses looked up by their text alone); repeats; a number for an address
    kinds = _peer_kinds(
        [
            {"peer.service": "geo", "server.address": "api.example.test"},
            {"peer.service": "geo", "server.address": "api.example.test"},
            {"peer.service": "billing", "server.address": "billing.svc.cluster.local"},
            {"peer.service": "legacy", "server.address": 8080},
        ]
    )
    assert kinds == [
        ("geo", PeerKind.EXTERNAL),
        ("geo", PeerKind.EXTERNAL),
        ("billing", PeerKind.SERVICE),
        ("legacy", PeerKind.SERVICE),
    ]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("api.stripe.com", True),
        ("API.Stripe.COM.", True),
        ("api.stripe.com:443", True),
        ("localhost", False),
        ("localhost:8080", False),
        ("redis", False),
        ("cache.local", False),
        ("printer.home.arpa", False),
        ("192.168.1.5", False),
        ("[2001:db8::1]:443", False),
        ("[2606:4700::1111]:443", True),
        ("1.1.1.1", True),
    ],
)
def test_is_public_host(address: str, public: bool) -> None:
    assert attributes.is_public_host(address) is public
