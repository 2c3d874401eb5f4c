"""A ``prometheus_client`` collector of a client's metrics (``pip install
cxoauth[prometheus]``): the library's families (``oauth_client_metrics``) with their names,
labels and help, read at every scrape.

    from prometheus_client import REGISTRY, start_http_server
    import cxoauth, cxoauth.prometheus

    client = cxoauth.Client(...)
    REGISTRY.register(cxoauth.prometheus.Collector(client))
    start_http_server(9100)
"""

import json
from typing import Any, Dict, Iterable, List, Optional

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import REGISTRY, Collector as _Collector, CollectorRegistry

__all__ = ["Collector", "register", "families"]


def families(text: str) -> List[Metric]:
    """The metric families of the JSON form of ``Client.metrics("json")``."""
    out: List[Metric] = []
    for fam in json.loads(text)["families"]:
        m = Metric(fam["name"], fam["help"], fam["type"])
        # prometheus_client's own families are named without a counter's _total
        if fam["type"] == "counter" and m.name.endswith("_total"):
            m.name = m.name[: -len("_total")]
        for s in fam["samples"]:
            labels: Dict[str, str] = {k: str(v) for k, v in s["labels"].items()}
            m.add_sample(s["name"], labels, float(s["value"]))
        out.append(m)
    return out


class Collector(_Collector):
    """A custom collector over one :class:`cxoauth.Client`: ``collect()`` reads
    ``client.metrics("json")`` (no I/O) and yields the same families as the library's
    exposition. A closed client raises :class:`cxoauth.ClosedError` from ``collect()``."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def collect(self) -> Iterable[Metric]:
        return families(self._client.metrics("json"))

    def describe(self) -> Iterable[Metric]:
        # no description up front: the latency histogram's label sets grow with the calls
        return []


def register(client: Any, registry: Optional[CollectorRegistry] = None) -> Collector:
    """Registers a :class:`Collector` of ``client`` with ``registry`` (default: the global
    ``prometheus_client.REGISTRY``) and returns it (``registry.unregister(it)`` removes it)."""
    c = Collector(client)
    (registry if registry is not None else REGISTRY).register(c)
    return c
