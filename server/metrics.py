"""What an operator watches: sessions, turns, their latency, errors and refusals, as Prometheus text at /metrics.

One registry per server (tests run several servers in one process). Counters are named by what happened,
never by what was said: no transcript, no audio, no session id reaches a label.
"""
from __future__ import annotations

import resource

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for the HTTP route)

LATENCY_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)


class ServerMetrics:
    def __init__(self, *, sessions, workers: dict, faults: dict) -> None:
        """`sessions`: the server's live set; `workers`: name -> ModelWorker (their stuck time is reported);
        `faults`: kind -> count of faults handled mid-turn (the pipeline's)."""
        self.registry = r = CollectorRegistry()
        r.register(_CountsCollector("warmline_faults", "model timeouts and failures handled mid-turn", "kind", faults))
        Gauge("warmline_sessions", "conversations open now (browser, API and phone)", registry=r).set_function(
            lambda: len(sessions))
        self.opened = Counter("warmline_sessions_opened", "conversations opened", ["transport"], registry=r)
        self.refused = Counter("warmline_connections_refused", "connections refused, by reason", ["reason"], registry=r)
        self.closed = Counter("warmline_sessions_closed", "conversations ended, by reason", ["reason"], registry=r)
        self.turns = Counter("warmline_turns", "replies finished, by status", ["status"], registry=r)
        self.first_audio = Histogram("warmline_first_audio_seconds",
                                     "the caller's last word to the reply's first audio", buckets=LATENCY_BUCKETS,
                                     registry=r)
        self.errors = Counter("warmline_errors", "errors sent to clients and faults handled, by code", ["code"], registry=r)
        self.escalations = Counter("warmline_escalations", "crisis escalations raised, by level", ["level"], registry=r)
        self.throttled = Counter("warmline_audio_throttled_seconds",
                                 "time clients were held back for sending audio faster than real time", registry=r)
        stuck = Gauge("warmline_worker_busy_seconds", "how long each model worker's current call has run",
                      ["worker"], registry=r)
        for name, worker in workers.items():
            stuck.labels(worker=name).set_function(worker.stuck_seconds)
        Gauge("warmline_process_max_rss_bytes", "peak resident memory of the server process", registry=r).set_function(
            lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        Gauge("warmline_process_rss_bytes", "resident memory of the server process now", registry=r).set_function(
            resident_bytes)

    def observe_event(self, event: dict) -> None:
        """Count what a session sends its client (called for every outgoing event)."""
        kind = event.get("type")
        if kind == "response.done":
            response = event.get("response") or {}
            if not (response.get("metadata") or {}).get("warmline_backchannel"):
                self.turns.labels(status=response.get("status", "unknown")).inc()
        elif kind == "warmline.turn.timings":
            ms = (event.get("durations") or {}).get("end_of_speech_to_first_audio_ms")
            if isinstance(ms, (int, float)):
                self.first_audio.observe(ms / 1000)
        elif kind == "error":
            self.errors.labels(code=(event.get("error") or {}).get("code") or "unknown").inc()
        elif kind == "warmline.escalation":
            self.escalations.labels(level=str(event.get("level"))).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _CountsCollector:
    """A counter whose values live in a plain dict another part of the server updates."""

    def __init__(self, name: str, documentation: str, label: str, counts: dict) -> None:
        self.name, self.documentation, self.label, self.counts = name, documentation, label, counts

    def collect(self):
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        for key, value in sorted(dict(self.counts).items()):
            family.add_metric([key], value)
        yield family


def resident_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
