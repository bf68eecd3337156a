"""`warmline bench soak`: N simulated callers hold conversations with one real server for a long time
(issue 19). Each caller speaks real recorded speech at real-time pace, waits for the reply (or talks over it
now and then), pauses and speaks again, and reconnects whenever its session ends. Reported: sessions held
(and why they ended), turns completed, errors by kind, first reply audio p50/p95 per minute, the server
process's resident memory every 10 s (start, peak, end, after the callers hung up), and `GET /metrics` once a
minute when the server answers it."""
from __future__ import annotations

import asyncio
import base64
import os
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.caller import Caller, is_backchannel
from server.audio import float_to_pcm16
from benchmarks.report import percentiles, plot_path, table

RSS_EVERY_S = 10.0
METRICS_EVERY_S = 60.0
REPLY_TIMEOUT_S = 90.0  # no reply audio this long after the caller stopped speaking: an error, the call goes on
REPLY_END_TIMEOUT_S = 120.0


def add_arguments(p) -> None:
    p.add_argument("--minutes", type=float, default=10.0, help="how long the callers talk (default 10; --quick: 1)")
    p.add_argument("--callers", type=int, default=4, help="concurrent simulated callers (default 4; --quick: 2)")
    p.add_argument("--barge-in", type=float, default=0.2, help="share of replies the caller talks over (default 0.2)")
    p.add_argument("--url", help="ws:// URL of a running server (default: start one on the embedded models)")
    p.add_argument("--pid", type=int, help="with --url: the server's process id, for its memory (default: "
                                           "the local process listening on the URL's port, if any)")
    p.add_argument("--api-key", help="sent as `Authorization: Bearer` (a server started with --api-key)")
    p.add_argument("--server-args", default="", help="extra `warmline serve` flags for the started server")
    p.add_argument("--no-warmup", action="store_true", help="count the very first turn too")
    p.add_argument("--seed", type=int, default=0)


# --- what the callers saw -------------------------------------------------------------------------------------

@dataclass
class Tally:
    t0: float
    sessions: int = 0
    session_ends: Counter = field(default_factory=Counter)  # why a session ended before the soak did
    turns_spoken: int = 0
    turns_completed: int = 0  # a reply's audio came (then it ran to its end, or the caller talked over it)
    replies_completed: int = 0
    barge_ins: int = 0  # the caller talked over the reply
    barge_ins_confirmed: int = 0  # ... and the server cancelled it
    errors: Counter = field(default_factory=Counter)
    server_errors: Counter = field(default_factory=Counter)  # `error` events, by code
    turns: list[dict] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.t0


async def caller_loop(k: int, url: str, speech: list[np.ndarray], deadline: float, tally: Tally, *,
                      barge_in: float, headers: dict, seed: int) -> None:
    rng = random.Random(seed * 1000 + k)
    await asyncio.sleep(k * 1.5)  # callers arrive one after the other, not in one burst
    while time.monotonic() < deadline:
        try:
            caller = Caller(url, headers=headers)
            await caller.__aenter__()
        except Exception as exc:  # noqa: BLE001 (refused, busy, no session.created: a figure in the report)
            tally.errors[f"connect:{_kind(exc)}"] += 1
            await asyncio.sleep(2.0)
            continue
        tally.sessions += 1
        seen: dict = {"barged": set()}
        try:
            ended = await _conversation(k, tally.sessions, caller, speech, deadline, tally, rng, barge_in, seen)
            if ended:
                tally.session_ends[ended] += 1
        except Exception as exc:  # noqa: BLE001
            tally.errors[f"caller:{_kind(exc)}"] += 1
            await asyncio.sleep(1.0)
        finally:
            _scan(caller, tally, seen)
            try:
                await caller.__aexit__(None, None, None)
            except Exception:  # noqa: BLE001 (closing a connection the server already closed)
                pass


def _kind(exc: BaseException) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)  # websockets' InvalidStatus
    return f"{type(exc).__name__}" + (f" {status}" if status else "")


async def _open_mic(caller: Caller) -> None:
    """Silence at real-time pace until cancelled: a caller's line stays open while it listens."""
    step = caller.rate * caller.chunk_ms // 1000
    event = {"type": "input_audio_buffer.append",
             "audio": base64.b64encode(float_to_pcm16(np.zeros(step, np.float32))).decode()}
    start, sent = time.monotonic(), 0
    while True:
        await caller.send(event)
        sent += 1
        await asyncio.sleep(max(0.0, start + sent * caller.chunk_ms / 1000 - time.monotonic()))


async def _conversation(k: int, session: int, caller: Caller, speech: list[np.ndarray], deadline: float,
                        tally: Tally, rng: random.Random, barge_in: float, seen: dict) -> str | None:
    """Turns until the deadline; returns why the session ended early (None: it lasted)."""
    import websockets

    stale: set[str] = set()  # replies of earlier turns: their late audio is not this turn's answer
    row: dict | None = None  # the turn in flight, until its outcome is in tally.turns
    try:
        await caller.silence(rng.uniform(0.3, 1.0))
        while time.monotonic() < deadline:
            _scan(caller, tally, seen)
            caller.events.clear()  # the tallies are taken; a long session must not keep every delta
            clip = speech[rng.randrange(len(speech))]
            speech_end = await caller.stream(clip)
            tally.turns_spoken += 1
            keep = asyncio.create_task(_open_mic(caller))
            row = {"caller": k, "session": session, "spoken_at_s": round(tally.now(), 1)}
            try:
                try:
                    delta = await caller.wait_for_reply_audio(timeout=REPLY_TIMEOUT_S,
                                                              where=lambda e: e.get("response_id") not in stale)
                except TimeoutError:
                    tally.errors["no_reply_audio"] += 1
                    tally.turns.append({**row, "status": "no_reply"})
                    row = None
                    continue
                rid = delta.get("response_id")
                stale.add(rid)
                first = caller.time_of(delta)
                row.update(t_s=round(first - tally.t0, 1), first_audio_ms=round((first - speech_end) * 1000, 1))
                if time.monotonic() < deadline and rng.random() < barge_in:  # the next clip starts while it plays
                    await asyncio.sleep(rng.uniform(0.5, 1.5))
                    tally.barge_ins += 1
                    seen["barged"].add(rid)
                    tally.turns_completed += 1
                    tally.turns.append({**row, "status": "barged_in"})
                    row = None
                    continue
                try:
                    done = await caller.wait_for("response.done", timeout=REPLY_END_TIMEOUT_S,
                                                 where=lambda e: (e.get("response") or {}).get("id") == rid)
                except TimeoutError:
                    tally.errors["reply_never_ended"] += 1
                    tally.turns.append({**row, "status": "unfinished"})
                    row = None
                    continue
                status = done["response"].get("status")
                tally.turns_completed += 1
                tally.replies_completed += status == "completed"
                tally.turns.append({**row, "status": status})
                row = None
            finally:
                keep.cancel()
                await asyncio.gather(keep, return_exceptions=True)
            await caller.silence(rng.uniform(0.5, 2.0))  # the caller thinks before speaking again
        return None
    except (websockets.ConnectionClosed, ConnectionError):
        if row is not None:  # the session ended while this turn waited for (the end of) its reply
            tally.turns.append({**row, "status": "session_ended"})
        ws = caller._ws
        code = getattr(ws, "close_code", None) if ws is not None else None
        reason = getattr(ws, "close_reason", "") if ws is not None else ""
        return f"closed {code}" + (f" ({reason})" if reason else "") if code is not None else "connection lost"


def _scan(caller: Caller, tally: Tally, seen: dict) -> None:
    """Tally the events not tallied yet: the server's `error`s, and which talked-over replies it cancelled."""
    barged = seen["barged"]
    for _, e in caller.events:
        kind = e.get("type")
        if kind == "error":
            tally.server_errors[(e.get("error") or {}).get("code") or "unknown"] += 1
        elif kind == "response.done" and not is_backchannel(e):
            r = e.get("response") or {}
            if r.get("id") in barged and r.get("status") == "cancelled":
                barged.discard(r.get("id"))
                tally.barge_ins_confirmed += 1


# --- what the server looked like ------------------------------------------------------------------------------

def rss_mb(pid: int) -> float | None:
    """Resident memory of a process (VmRSS), MiB; None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def children_rss_mb(pid: int) -> float:
    """Resident memory of the process's children (e.g. a llama-server it started), MiB."""
    total = 0.0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += rss_mb(int(child)) or 0.0
    except (OSError, ValueError):
        pass
    return round(total, 1)


def pid_listening_on(port: int) -> int | None:
    """The local process with a TCP socket listening on `port` (one we may read), or None."""
    inodes = set()
    for table_path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in Path(table_path).read_text().splitlines()[1:]:
                parts = line.split()
                if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
        except OSError:
            continue
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


async def sample_rss(pid: int | None, tally: Tally, samples: list[dict], stop: asyncio.Event) -> None:
    while pid is not None:
        mb = rss_mb(pid)
        if mb is not None:
            samples.append({"t_s": round(tally.now(), 1), "rss_mb": mb, "children_mb": children_rss_mb(pid)})
        try:
            await asyncio.wait_for(stop.wait(), RSS_EVERY_S)
            return
        except asyncio.TimeoutError:
            pass


def scrape_metrics(http_base: str, headers: dict) -> dict:
    """One `GET /metrics`: the Prometheus text's samples (histogram buckets left out), or why there are none."""
    request = urllib.request.Request(http_base + "/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return {"status": exc.code}
    except (OSError, ValueError) as exc:
        return {"status": f"{type(exc).__name__}: {exc}"}
    samples = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "_bucket{" in line:
            continue
        name, _, value = line.rpartition(" ")
        try:
            samples[name] = float(value)
        except ValueError:
            continue
    return {"status": 200, "samples": samples}


async def sample_metrics(http_base: str, headers: dict, tally: Tally, scrapes: list[dict], stop: asyncio.Event) -> None:
    while True:
        got = await asyncio.to_thread(scrape_metrics, http_base, headers)
        scrapes.append({"t_s": round(tally.now(), 1), **got})
        if got["status"] == 404:
            return  # this server has no /metrics; asking every minute would only repeat that
        try:
            await asyncio.wait_for(stop.wait(), METRICS_EVERY_S)
            return
        except asyncio.TimeoutError:
            pass


# --- the run ------------------------------------------------------------------------------------------------------

def run(args) -> dict:
    from benchmarks.caller import load_clip
    from benchmarks.data import librivox_clips

    clips = librivox_clips()
    if not clips:
        return {"skipped": "pocketsphinx-testdata (LibriVox clips) is not installed", "report_markdown": "skipped\n"}
    speech = [load_clip(p) for p, _ in clips]
    minutes, callers = (1.0, 2) if args.quick else (args.minutes, args.callers)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    if args.url:
        pid = args.pid or _local_pid(args.url)
        result = asyncio.run(soak(args.url, speech, minutes=minutes, callers=callers, pid=pid, headers=headers,
                                  barge_in=args.barge_in, warmup=not args.no_warmup, seed=args.seed))
    else:
        from benchmarks.server_proc import start_server, stop_server

        proc, base, log_path = start_server(args.server_args.split())
        try:
            result = asyncio.run(soak(base.replace("http://", "ws://") + "/v1/realtime", speech, minutes=minutes,
                                      callers=callers, pid=proc.pid, headers=headers, barge_in=args.barge_in,
                                      warmup=not args.no_warmup, seed=args.seed))
        finally:
            stop_server(proc)
        result["server_exit_code"] = proc.returncode
        result["server_log"] = str(log_path)
    result["report_markdown"] = _report(result, _plot_target(args))
    return result


def _local_pid(url: str) -> int | None:
    m = re.match(r"wss?://([^/:]+):(\d+)", url)
    if not m or m.group(1) not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        return None
    return pid_listening_on(int(m.group(2)))


async def soak(url: str, speech: list[np.ndarray], *, minutes: float, callers: int, pid: int | None,
               headers: dict, barge_in: float = 0.2, warmup: bool = True, seed: int = 0) -> dict:
    parts = urllib.parse.urlsplit(url)
    http_base = f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"
    rss_at_ready = rss_mb(pid) if pid else None
    if warmup:  # the first turn loads what the server loads lazily; it is not counted
        async with Caller(url, headers=headers) as caller:
            await caller.silence(0.5)
            await caller.stream(speech[min(1, len(speech) - 1)])
            keep = asyncio.create_task(_open_mic(caller))
            try:
                await caller.wait_for_reply(timeout=REPLY_END_TIMEOUT_S)
            finally:
                keep.cancel()
                await asyncio.gather(keep, return_exceptions=True)
    tally = Tally(time.monotonic())
    deadline = tally.t0 + minutes * 60
    stop = asyncio.Event()
    rss: list[dict] = []
    scrapes: list[dict] = []
    watchers = [asyncio.create_task(sample_rss(pid, tally, rss, stop)),
                asyncio.create_task(sample_metrics(http_base, headers, tally, scrapes, stop))]
    tasks = [asyncio.create_task(caller_loop(k, url, speech, deadline, tally, barge_in=barge_in, headers=headers,
                                             seed=seed)) for k in range(callers)]
    # a turn in flight at the deadline finishes; a hung one is cut after its timeouts
    _, late = await asyncio.wait(tasks, timeout=minutes * 60 + REPLY_TIMEOUT_S + REPLY_END_TIMEOUT_S + 30)
    for task in late:
        task.cancel()
        tally.errors["caller_cut_at_end"] += 1
    await asyncio.gather(*tasks, return_exceptions=True)
    held_s = tally.now()
    load_end = {"t_s": round(held_s, 1), "rss_mb": rss_mb(pid), "children_mb": children_rss_mb(pid)} if pid else None
    stop.set()
    await asyncio.gather(*watchers, return_exceptions=True)
    if scrapes and scrapes[-1].get("status") == 200:
        scrapes.append({"t_s": round(tally.now(), 1), **await asyncio.to_thread(scrape_metrics, http_base, headers)})
    await asyncio.sleep(5.0)  # the sessions are closed; what the server still holds now is what it keeps
    after = rss_mb(pid) if pid else None
    return _figures(tally, minutes=minutes, callers=callers, held_s=held_s, pid=pid, rss=rss, load_end=load_end,
                    rss_at_ready=rss_at_ready, rss_after=after, scrapes=scrapes, barge_in=barge_in)


def _figures(tally: Tally, *, minutes: float, callers: int, held_s: float, pid: int | None, rss: list[dict],
             load_end: dict | None, rss_at_ready: float | None, rss_after: float | None, scrapes: list[dict],
             barge_in: float) -> dict:
    answered = [t for t in tally.turns if t.get("first_audio_ms") is not None]
    per_minute = []
    n_minutes = max(1, int(np.ceil(minutes - 1e-9)))  # what a turn finishing after the deadline adds goes to the last
    last = n_minutes - 1
    for m in range(n_minutes):
        rows = [t for t in answered if min(int(t["t_s"] // 60), last) == m]
        in_minute = [s["rss_mb"] for s in rss if min(int(s["t_s"] // 60), last) == m]
        lat = percentiles([t["first_audio_ms"] for t in rows])
        per_minute.append({"minute": m + 1, "turns": len(rows), "first_audio_p50_ms": lat["p50"],
                           "first_audio_p95_ms": lat["p95"], "rss_mb": in_minute[-1] if in_minute else None})
    samples = rss + ([load_end] if load_end and load_end["rss_mb"] is not None else [])
    memory = {"pid": pid, "at_ready_mb": rss_at_ready, "start_mb": samples[0]["rss_mb"] if samples else None,
              "peak_mb": max((s["rss_mb"] for s in samples), default=None),
              "end_mb": samples[-1]["rss_mb"] if samples else None, "after_hang_up_mb": rss_after,
              "samples": samples}
    if memory["start_mb"] is not None and memory["end_mb"] is not None:
        memory["growth_mb"] = round(memory["end_mb"] - memory["start_mb"], 1)
    metrics = {"scrapes": len([s for s in scrapes if s.get("status") == 200]),
               "status": scrapes[0]["status"] if scrapes else None, "samples": scrapes}
    return {
        "config": {"minutes": minutes, "callers": callers, "barge_in_share": barge_in},
        "held_s": round(held_s, 1),
        "sessions": {"opened": tally.sessions, "reconnects": max(0, tally.sessions - callers),
                     "ended_early": dict(tally.session_ends)},
        "turns": {"spoken": tally.turns_spoken, "completed": tally.turns_completed,
                  "replies_completed": tally.replies_completed, "barge_ins": tally.barge_ins,
                  "barge_ins_cancelled_by_server": tally.barge_ins_confirmed,
                  "statuses": dict(Counter(t["status"] for t in tally.turns))},
        "errors": {**{k: v for k, v in tally.errors.items() if v}, **{f"server:{k}": v for k, v in tally.server_errors.items()}},
        "first_audio_ms": percentiles([t["first_audio_ms"] for t in answered]),
        "per_minute": per_minute,
        "memory": memory,
        "metrics": metrics,
        "per_turn": tally.turns,
    }


# --- the report -----------------------------------------------------------------------------------------------------

def _plot_target(args) -> Path | None:
    if os.environ.get("WARMLINE_NO_PLOTS"):
        return None
    if getattr(args, "json_out", None):
        return Path(args.json_out).with_suffix(".png")
    return plot_path("soak")


def _report(r: dict, plot: Path | None) -> str:
    if "skipped" in r:
        return "skipped\n"
    mem, turns, sessions = r["memory"], r["turns"], r["sessions"]
    errors = ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())) or "none"
    ends = ", ".join(f"{k} {v}" for k, v in sorted(sessions["ended_early"].items())) or "none"
    md = ["# Soak", "",
          f"{r['config']['callers']} simulated callers for {r['config']['minutes']:g} min (held {r['held_s']} s), real "
          f"speech (LibriVox) at real-time pace, each reply waited for or (share {r['config']['barge_in_share']}) "
          "talked over; callers reconnect when a session ends.", "",
          table(["sessions opened", "reconnects", "turns spoken", "turns completed", "replies completed",
                 "barge-ins (cancelled by server)", "first audio p50 ms", "p95 ms"],
                [[sessions["opened"], sessions["reconnects"], turns["spoken"], turns["completed"],
                  turns["replies_completed"], f"{turns['barge_ins']} ({turns['barge_ins_cancelled_by_server']})",
                  r["first_audio_ms"]["p50"], r["first_audio_ms"]["p95"]]]), "",
          f"Sessions that ended before the soak did: {ends}. Errors: {errors}.", "",
          "Per minute (first reply audio after the caller stopped speaking; server resident memory at the "
          "minute's last sample):", "",
          table(["minute", "turns", "first audio p50 ms", "p95 ms", "RSS MiB"],
                [[m["minute"], m["turns"], m["first_audio_p50_ms"], m["first_audio_p95_ms"], m["rss_mb"]]
                 for m in r["per_minute"]]), "",
          (f"Server resident memory (VmRSS, pid {mem['pid']}): {mem['at_ready_mb']} MiB when ready, "
           f"{mem['start_mb']} MiB at the start of the load, peak {mem['peak_mb']}, {mem['end_mb']} at the end "
           f"(growth {mem.get('growth_mb')}), {mem['after_hang_up_mb']} MiB 5 s after the callers hung up."
           if mem["pid"] else "Server memory: not measured (no local server process found for the URL; pass --pid)."),
          ""]
    metrics = r["metrics"]
    if metrics["scrapes"]:
        last = next(s for s in reversed(metrics["samples"]) if s.get("status") == 200)["samples"]
        shown = {k: v for k, v in last.items() if not k.split("{")[0].endswith(("_sum", "_created"))}
        md += [f"`GET /metrics` answered {metrics['scrapes']} times; its last figures:", "",
               table(["metric", "value"], [[k, v] for k, v in list(shown.items())[:40]]), ""]
    else:
        md += [f"`GET /metrics`: {metrics['status'] if metrics['status'] is not None else 'not asked'} "
               "(no figures from the server).", ""]
    if plot is not None and r["per_minute"]:
        _plot(r, plot)
        md += [f"![first audio p95 and memory over time]({plot.name})", ""]
    return "\n".join(md)


def _plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (lat, mem) = plt.subplots(1, 2, figsize=(11, 4))
    pm = [m for m in r["per_minute"] if m["first_audio_p95_ms"] is not None]
    mid = [m["minute"] - 0.5 for m in pm]  # a minute's figures at its middle; time runs from the load's start
    lat.plot(mid, [m["first_audio_p95_ms"] for m in pm], "o-", label="p95 per minute")
    lat.plot(mid, [m["first_audio_p50_ms"] for m in pm], "s--", label="p50 per minute")
    answered = [t for t in r["per_turn"] if t.get("first_audio_ms") is not None]
    lat.scatter([t["t_s"] / 60 for t in answered], [t["first_audio_ms"] for t in answered], s=6, alpha=0.4,
                color="grey", label="one turn")
    lat.set(title="end of speech to first reply audio", xlabel="minutes since the load began", ylabel="ms")
    lat.legend(fontsize=8)
    samples = r["memory"]["samples"]
    mem.plot([s["t_s"] / 60 for s in samples], [s["rss_mb"] for s in samples], "-", label="server")
    if any(s.get("children_mb") for s in samples):
        mem.plot([s["t_s"] / 60 for s in samples], [s["children_mb"] for s in samples], "--", label="its children")
        mem.legend(fontsize=8)
    mem.set(title="server resident memory (VmRSS)", xlabel="minutes since the load began", ylabel="MiB")
    fig.suptitle(f"soak: {r['config']['callers']} callers, {r['config']['minutes']:g} min")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
