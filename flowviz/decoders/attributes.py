"""The span attributes flowviz reads, and the one set of rules turning them into peer, destination and status."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import numpy as np

from flowviz.model.columns import is_any_of
from flowviz.model.span_batch import PeerKind, SpanKind, StatusCode

# Uninstrumented-peer naming precedence (GUIDE §2, issue 2): peer.service (and Zipkin's
# remoteEndpoint.serviceName), then the database name, then the database system, then the
# server address (then the GenAI provider or messaging system); "unknown" is decided by the deriver
# when none is present.
REMOTE_SERVICE_KEY = "zipkin.remote_service"  # pseudo-attribute: Zipkin remoteEndpoint.serviceName
PEER_KEYS: tuple[tuple[str, PeerKind], ...] = (
    ("peer.service", PeerKind.SERVICE),
    (REMOTE_SERVICE_KEY, PeerKind.SERVICE),
    ("db.name", PeerKind.DATABASE),
    ("db.namespace", PeerKind.DATABASE),
    ("db.system", PeerKind.DATABASE),
    ("db.system.name", PeerKind.DATABASE),
    ("server.address", PeerKind.EXTERNAL),
    ("net.peer.name", PeerKind.EXTERNAL),
    ("peer.hostname", PeerKind.EXTERNAL),
    ("http.host", PeerKind.EXTERNAL),
    ("url.full", PeerKind.EXTERNAL),  # its host, for HTTP clients that name nothing else
    ("http.url", PeerKind.EXTERNAL),
    ("gen_ai.provider.name", PeerKind.EXTERNAL),  # an LLM API called without peer.service
    ("gen_ai.system", PeerKind.EXTERNAL),
    ("messaging.system", PeerKind.EXTERNAL),  # the broker, for a producer naming no destination
)
DATABASE_MARK_KEYS = ("db.name", "db.namespace", "db.system", "db.system.name")
# Third parties (one rule, for every source): an uninstrumented peer reached at a public host — a dotted DNS
# name outside private suffixes, or a global IP — is `external`, however it is named (peer.service or the
# address); one at a private host (a single label, *.internal, *.svc.cluster.local, 10.x, localhost, ...)
# is an uninstrumented `service`. Databases stay databases; a peer with no address keeps its key's kind.
ADDRESS_KEYS = ("server.address", "net.peer.name", "peer.hostname", "http.host", "url.full", "http.url")
PRIVATE_SUFFIXES = (
    "internal", "local", "localdomain", "localhost", "lan", "home", "home.arpa", "corp", "intranet", "private",
    "svc", "cluster.local", "svc.cluster.local",
)  # fmt: skip
DESTINATION_KEYS = (
    "messaging.destination.name",
    "messaging.destination",
    "message_bus.destination",
    "kafka.topic",
    "rabbitmq.queue",
    "rabbitmq.exchange",
)
HTTP_STATUS_KEYS = ("http.response.status_code", "http.status_code")
ERROR_KEYS = ("otel.status_code", "error")
KIND_KEY = "span.kind"
NAMESPACE_KEYS = ("service.namespace", "k8s.namespace.name")
"""Resource attributes (Jaeger: process tags) naming a service's namespace, the first present winning; groups
on the chart follow them."""

ATTRIBUTE_CODES: dict[str, int] = {}
for _key in (*(k for k, _ in PEER_KEYS), *DESTINATION_KEYS, *HTTP_STATUS_KEYS, *ERROR_KEYS, KIND_KEY):
    ATTRIBUTE_CODES.setdefault(_key, len(ATTRIBUTE_CODES))
"""Every attribute key any rule looks at, with a small integer code; decoders drop all others."""

ERROR_TAG_CODE = ATTRIBUTE_CODES["error"]  # Zipkin: the tag's presence means error, even when empty
_NO_RANK = 1 << 20
_CODE_COUNT = len(ATTRIBUTE_CODES)


def _ranks(keys: tuple[str, ...]) -> np.ndarray:
    ranks = np.full(_CODE_COUNT, _NO_RANK, np.int64)
    for rank, key in enumerate(keys):
        ranks[ATTRIBUTE_CODES[key]] = rank
    return ranks


_PEER_RANK = _ranks(tuple(k for k, _ in PEER_KEYS))
_ADDRESS_RANK = _ranks(ADDRESS_KEYS)
_PEER_KIND = np.zeros(_CODE_COUNT, np.int8)
for _key, _kind in PEER_KEYS:
    _PEER_KIND[ATTRIBUTE_CODES[_key]] = _kind
_IS_DATABASE_MARK = np.zeros(_CODE_COUNT, bool)
_IS_DATABASE_MARK[[ATTRIBUTE_CODES[k] for k in DATABASE_MARK_KEYS]] = True
_DESTINATION_RANK = _ranks(DESTINATION_KEYS)
_HTTP_RANK = _ranks(HTTP_STATUS_KEYS)
_KIND_NAMES = {
    "client": SpanKind.CLIENT,
    "server": SpanKind.SERVER,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
}


def _first_by_rank(rows: np.ndarray, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row with a ranked triple, the index of its best-ranked triple (first one on ties)."""
    candidates = np.flatnonzero(ranks < _NO_RANK)
    if candidates.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    candidate_rows = rows[candidates]
    if (candidate_rows[1:] < candidate_rows[:-1]).any():  # rows out of order: sort by (row, rank, index)
        order = candidates[np.lexsort((candidates, ranks[candidates], candidate_rows))]
        best_rows, first = np.unique(rows[order], return_index=True)
        return best_rows, order[first]
    return _first_by_rank_sorted(candidates, candidate_rows, ranks[candidates])


def _first_by_rank_sorted(
    candidates: np.ndarray, candidate_rows: np.ndarray, candidate_ranks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`_first_by_rank` of candidates whose rows do not decrease (the builder's order): no sort needed.

    Within each run of equal rows the least (rank, position) wins, taken as one integer per candidate.
    """
    run_starts = np.flatnonzero(np.concatenate(([True], candidate_rows[1:] != candidate_rows[:-1])))
    keys = candidate_ranks << 32 | np.arange(candidates.size)  # ranks < 2**20: fits in int64
    best = np.minimum.reduceat(keys, run_starts) & 0xFFFFFFFF
    return candidate_rows[run_starts], candidates[best]


def _is_error_value(code: int, value: object) -> bool:
    if code == ATTRIBUTE_CODES["otel.status_code"]:
        return str(value).upper() == "ERROR"
    if value is None or value is False:
        return False
    return not (isinstance(value, str) and value.strip().lower() == "false")


def _http_status(value: object) -> int:
    try:
        status = int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return 0
    return status if 0 < status < 1000 else 0


class AttributeColumns:
    """Columns derived from (row, key code, value) triples for a whole batch at once."""

    __slots__ = (
        "destination_rows",
        "destination_values",
        "http_status",
        "peer_kind",
        "peer_rows",
        "peer_values",
        "tag_error",
        "tag_kind",
    )

    def __init__(self, rows: int) -> None:
        self.peer_rows = np.zeros(0, np.int64)
        self.peer_values: list[object] = []
        self.peer_kind = np.zeros(rows, np.int8)
        self.destination_rows = np.zeros(0, np.int64)
        self.destination_values: list[object] = []
        self.http_status = np.zeros(rows, np.int16)
        self.tag_error = np.zeros(rows, bool)
        self.tag_kind = np.zeros(rows, np.int8)


def resolve_attributes(
    row_count: int, rows: Sequence[int], codes: Sequence[int], values: list[object] | np.ndarray
) -> AttributeColumns:
    """Apply the naming and status rules to every span of a batch at once.

    A value may be a wrapper with a `scalar()` method (unwrapped only when a rule uses it).

    A database named by `peer.service` is still a database when any `db.*` attribute is present.
    """
    out = AttributeColumns(row_count)
    if len(rows) == 0:
        return out
    row_array = np.asarray(rows, np.int64)
    code_array = np.asarray(codes, np.int64)
    value_array = _object_array(values)
    peer_rows, peer_index = _first_by_rank(row_array, _PEER_RANK[code_array])
    if peer_rows.size:
        kinds = _PEER_KIND[code_array[peer_index]]
        database_row = np.zeros(row_count, bool)
        database_row[row_array[_IS_DATABASE_MARK[code_array]]] = True
        kinds[database_row[peer_rows]] = PeerKind.DATABASE
        out.peer_kind[peer_rows] = kinds
        out.peer_rows, out.peer_values = peer_rows, _plain_values(value_array[peer_index].tolist())
        for position in np.flatnonzero(is_any_of(code_array[peer_index], _URL_CODES)).tolist():
            out.peer_values[position] = _url_host(out.peer_values[position])
        _third_parties(out, row_array, code_array, value_array)
    out.destination_rows, dest_index = _first_by_rank(row_array, _DESTINATION_RANK[code_array])
    out.destination_values = _plain_values(value_array[dest_index].tolist())
    http_rows, http_index = _first_by_rank(row_array, _HTTP_RANK[code_array])
    if http_rows.size:
        http_values = np.empty(http_index.size, dtype=object)
        http_values[:] = _plain_values(value_array[http_index].tolist())
        out.http_status[http_rows] = _http_statuses(http_values)
    special = np.flatnonzero(is_any_of(code_array, _SPECIAL_CODES))
    kind_code = ATTRIBUTE_CODES[KIND_KEY]
    for index in special.tolist():
        code, value, row = codes[index], _plain(values[index]), rows[index]
        if code == kind_code:
            out.tag_kind[row] = _KIND_NAMES.get(str(value).lower(), SpanKind.UNSPECIFIED)
        elif _is_error_value(code, value):
            out.tag_error[row] = True
    return out


def _third_parties(out: AttributeColumns, rows: np.ndarray, codes: np.ndarray, values: np.ndarray) -> None:
    """Set the kind of each named peer that is no database from its address: public host -> external,
    private -> service (see PRIVATE_SUFFIXES); once per distinct address, not per span."""
    address_rows, address_index = _first_by_rank(rows, _ADDRESS_RANK[codes])
    if address_rows.size == 0:
        return
    texts = _plain_values(values[address_index].tolist())
    if not _STR_ONLY.issuperset(map(type, texts)):  # one type check per value, in C
        texts = list(map(str, texts))
    is_url = is_any_of(codes[address_index], _URL_CODES)
    addresses: list = list(zip(texts, is_url.tolist(), strict=True)) if is_url.any() else texts  # (text, is URL)
    public_of = {  # one look per distinct address: a batch has few
        address: is_public_host(_url_host(address[0]) if address[1] else address[0])
        if type(address) is tuple
        else is_public_host(address)
        for address in dict.fromkeys(addresses)
    }
    public = np.fromiter(map(public_of.__getitem__, addresses), bool, len(addresses))
    kinds = np.full(len(out.peer_kind), -1, np.int8)
    kinds[address_rows] = np.where(public, PeerKind.EXTERNAL, PeerKind.SERVICE)
    peer_kinds = out.peer_kind[out.peer_rows]
    decided = kinds[out.peer_rows]
    change = (decided >= 0) & (peer_kinds != PeerKind.DATABASE) & (peer_kinds != PeerKind.NONE)
    out.peer_kind[out.peer_rows[change]] = decided[change]


@functools.lru_cache(maxsize=4096)
def is_public_host(address: str) -> bool:
    """Whether `address` (a host, host:port, or IP) is reached on the internet: a global IP, or a dotted
    DNS name whose suffix is no private one."""
    host = address.strip().lower().rstrip(".")
    if host.startswith("["):  # [IPv6]:port
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) < 2 or not labels[-1].isalpha():
        return False
    return not any(host == suffix or host.endswith("." + suffix) for suffix in PRIVATE_SUFFIXES)


def _object_array(values: list[object] | np.ndarray) -> np.ndarray:
    """The values as an object array (one already is: used as it is)."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    array = np.empty(len(values), dtype=object)
    try:
        array[:] = values
    except ValueError:  # values that are lists of one length look like a second dimension to numpy
        for index, value in enumerate(values):
            array[index] = value
    return array


_PLAIN_TYPES = frozenset((str, int, float, bool, bytes))
_STR_ONLY = frozenset((str,))
_PLAIN_OR_NONE = _PLAIN_TYPES | {type(None)}


def _plain(value: object) -> object:
    """A value as recorded, or the scalar inside a wrapped one (decoders may defer unwrapping)."""
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, dict | list | tuple):
        return ""  # an array or map value names nothing (and may be nested too deep to turn into text)
    scalar = getattr(value, "scalar", None)
    return scalar() if scalar is not None else value


def _plain_values(values: list[object]) -> list[object]:
    """`_plain` of each value: the list itself when no value is wrapped (one type check per value, in C)."""
    if _PLAIN_OR_NONE.issuperset(map(type, values)):
        return values
    return [_plain(v) for v in values]


_URL_CODES = np.array([ATTRIBUTE_CODES["url.full"], ATTRIBUTE_CODES["http.url"]])


def _url_host(url: object) -> str:
    """The host of a URL attribute (the URL itself when it has none)."""
    try:
        return urlsplit(str(url)).hostname or str(url)
    except ValueError:
        return str(url)


_SPECIAL_CODES = np.array([ATTRIBUTE_CODES[k] for k in (*ERROR_KEYS, KIND_KEY)])


def _http_statuses(values: np.ndarray) -> np.ndarray:
    try:
        statuses = values.astype(np.float64)
    except (TypeError, ValueError, OverflowError):
        statuses = np.array([_http_status(v) for v in values.tolist()], np.float64)
    statuses = np.nan_to_num(statuses, nan=0.0)
    return np.where((statuses > 0) & (statuses < 1000), statuses, 0).astype(np.int16)


def status_from_tags(attributes: Mapping[str, object]) -> StatusCode:
    """Status for formats without a status field: ERROR / OK from `otel.status_code`, else UNSET.

    The `error` tag is handled in `resolve_attributes` for every format (it only raises to ERROR).
    """
    value = str(attributes.get("otel.status_code", "")).upper()
    return StatusCode.ERROR if value == "ERROR" else StatusCode.OK if value == "OK" else StatusCode.UNSET
