"""The cluster benchmark runs end to end (tiny load): both kinds of node, one measurement each."""

from __future__ import annotations

from benchmarks import cluster


def test_cluster_benchmark_measures_both_kinds_of_node() -> None:
    for kind in cluster.KINDS:
        result = cluster.measure(kind, clients=5, broadcasts=5)
        assert result["deliveries"] == 2 * 5 * 5
        assert result["deliveries_per_s"] > 0
        assert result["p99_b_ms"] is not None
