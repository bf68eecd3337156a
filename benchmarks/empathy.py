"""`warmline bench empathy`: EchoMind / EChat-eval's conversation level. RAVDESS and TESS say the same
neutral words in different emotions; each clip goes through the whole system (VAD, ASR, voice analysis,
dialogue, voice) in a fresh session, and we score whether the replies fit how the words were said:
reply-emotion alignment, sensitivity across a script group, judge scores on EchoMind's criteria, and
EmoAlign (does the spoken reply sound like the tone it was meant to have?)."""
from __future__ import annotations

import asyncio
import base64
import csv
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import scoring as S
from benchmarks.caller import Caller, is_backchannel, load_clip, spoken_text
from benchmarks.data import paralinguistics_root
from benchmarks.judge import Judge, add_judge_arguments
from benchmarks.report import plot_path, table
from server.audio import pcm16_to_float

RATE = 16000  # session input and output rate: what the voice analyser takes
RAVDESS_STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
QUICK_EMOTIONS = ("neutral", "happy", "sad", "angry")


# --- the data ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    path: Path
    emotion: str
    speaker: str
    script: str  # the words, as said
    dataset: str

    @property
    def group(self) -> str:
        return f"{self.speaker}|{self.script}"


def _ravdess(name: str) -> tuple[str, tuple] | None:
    """03-01-EE-II-SS-RR-AA: emotion, intensity, statement, repetition, actor. Prefer strong, first take."""
    m = re.fullmatch(r"\d\d-\d\d-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)", name)
    if not m:
        return None
    _, intensity, statement, repetition, _ = m.groups()
    return RAVDESS_STATEMENTS.get(statement, f"statement {statement}"), (intensity != "02", repetition)


def _tess(name: str) -> tuple[str, tuple] | None:
    m = re.fullmatch(r"[A-Z]AF_([a-z]+)_[a-z]+", name)
    return (f"Say the word {m.group(1)}.", ()) if m else None


def load_clips(root: Path, manifest: Path, datasets: tuple[str, ...] = ("ravdess", "tess")) -> list[Clip]:
    """One clip per (speaker, script, emotion). The script comes from a `script` column when the manifest
    has one (a user's own folder), else from RAVDESS/TESS file names."""
    if not manifest.exists():
        raise FileNotFoundError(f"no manifest at {manifest}")
    best: dict[tuple, tuple] = {}
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("task", "emotion") != "emotion":
                continue
            dataset = row.get("dataset") or "own"
            if row.get("dataset") and dataset not in datasets:
                continue
            emotion = S.canonical_emotion(row.get("label", ""))
            if emotion not in S.EXPECTED_REPLY:
                continue
            stem = Path(row["path"]).stem
            parsed = (row["script"].strip(), ()) if row.get("script") else (_ravdess(stem) or _tess(stem))
            if parsed is None:
                continue
            script, preference = parsed
            clip = Clip(root / row["path"], emotion, row.get("speaker") or "unknown", script, dataset)
            key = (clip.group, emotion)
            if key not in best or preference < best[key][0]:
                best[key] = (preference, clip)
    return [clip for _, clip in best.values()]


def select_groups(clips: list[Clip], n_groups: int, emotions: tuple[str, ...] | None) -> dict[str, list[Clip]]:
    """n_groups script groups with a neutral delivery and at least one other, spread over datasets and
    speakers (round robin), deterministic."""
    groups: dict[str, list[Clip]] = defaultdict(list)
    for clip in sorted(clips, key=lambda c: (c.group, c.emotion)):
        if emotions is None or clip.emotion in emotions:
            groups[clip.group].append(clip)
    usable = {g: cs for g, cs in groups.items()
              if any(c.emotion in S.BASELINE_EMOTIONS for c in cs) and any(c.emotion not in S.BASELINE_EMOTIONS for c in cs)}
    by_dataset: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for g, cs in sorted(usable.items()):
        by_dataset[cs[0].dataset][cs[0].speaker].append(g)
    per_dataset = [_interleave(list(speakers.values())) for _, speakers in sorted(by_dataset.items())]
    chosen = _interleave(per_dataset)[:n_groups]
    return {g: usable[g] for g in chosen}


def _interleave(lists: list[list]) -> list:
    lists, out = [list(x) for x in lists], []
    while any(lists):
        for x in lists:
            if x:
                out.append(x.pop(0))
    return out


# --- one spoken turn through the whole system ----------------------------------------------------

@dataclass(eq=False)
class TurnRecord:
    transcript: str | None = None
    heard: dict | None = None  # warmline.paralinguistics result
    assessment: dict | None = None
    escalations: list[dict] = field(default_factory=list)
    reply_text: str | None = None
    reply_emotion: str | None = None
    status: str | None = None
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    error: str | None = None

    def summary(self) -> dict:
        return {"transcript": self.transcript, "heard_emotion": (self.heard or {}).get("emotion", {}).get("label"),
                "assessment": self.assessment, "escalations": self.escalations, "reply_text": self.reply_text,
                "reply_emotion": self.reply_emotion, "status": self.status,
                "reply_audio_s": round(len(self.audio) / RATE, 2), "error": self.error}


async def speak_turn(caller: Caller, speech16k: np.ndarray, *, timeout: float = 180.0, commit_wait: float = 6.0,
                     follow_up: float = 20.0) -> TurnRecord:
    """Say one turn at real-time pace (server VAD decides its end) and collect everything the server
    answers, keeping the line open with silence as a microphone would.

    A pause inside the clip can end the turn early ("I want to kill myself tonight." ... "I have the pills
    ready."): the reply to the first part starts, the rest of the clip interrupts it, and the answer to
    the whole comes as a second reply. So a reply the caller's own words cut is not the end: the record
    holds every reply (and transcript) up to the first one that completes, or until none follows within
    `follow_up` seconds."""
    start = len(caller.events)
    await caller.stream(speech16k)
    keep = asyncio.create_task(caller.silence(timeout + commit_wait + follow_up))
    rec = TurnRecord()
    dones: list[dict] = []
    try:
        try:
            await caller.wait_for("input_audio_buffer.committed", timeout=commit_wait, after_index=start)
        except TimeoutError:
            rec.error = "no turn: the VAD did not end a turn after the clip"
            return rec
        try:
            dones.append(await caller.wait_for_reply(timeout=timeout, after_index=start))
        except TimeoutError:
            asr = [e for _, e in caller.events[start:] if e.get("type") == "conversation.item.input_audio_transcription.completed"]
            rec.error = "empty transcript: no reply" if asr and not asr[-1].get("transcript") else f"no response.done in {timeout} s"
            rec.transcript = asr[-1].get("transcript") if asr else None
            return rec
        while dones[-1]["response"].get("status") != "completed":
            after = caller.index_of(dones[-1]) + 1
            try:
                created = await caller.wait_for("response.created", timeout=follow_up, after_index=after,
                                                where=lambda e: not is_backchannel(e))
                dones.append(await caller.wait_for("response.done", timeout=timeout, after_index=after,
                                                   where=lambda e: e["response"]["id"] == created["response"]["id"]))
            except TimeoutError:
                break
    finally:
        keep.cancel()
    ids = [d["response"]["id"] for d in dones]
    events = [e for _, e in caller.events[start:caller.index_of(dones[-1]) + 1]]
    transcripts = []
    for e in events:
        kind = e.get("type")
        if kind == "conversation.item.input_audio_transcription.completed" and e.get("transcript"):
            transcripts.append(e["transcript"])
        elif kind == "warmline.paralinguistics":
            rec.heard = e.get("result")
        elif kind == "warmline.thinking" and e.get("response_id") == ids[-1]:
            rec.assessment = e.get("assessment")
        elif kind == "warmline.escalation":
            rec.escalations.append({k: e.get(k) for k in ("category", "severity", "reason", "resources")})
    rec.transcript = " ".join(transcripts) or None
    final = dones[-1]["response"]
    rec.status = final.get("status")
    rec.reply_emotion = (final.get("metadata") or {}).get("reply_emotion")
    said = [spoken_text(d["response"]) for d in dones]
    rec.reply_text = " ".join(t for t in said if t) or None
    pcm = b"".join(base64.b64decode(e["delta"]) for e in events
                   if e.get("type") == "response.output_audio.delta" and e.get("response_id") in ids)
    rec.audio = pcm16_to_float(pcm) if pcm else rec.audio
    return rec


async def run_clips(url: str, clips: list, *, concurrency: int = 2, progress=None) -> list[TurnRecord]:
    """Each clip in a fresh session; a few sessions at once so one's real-time streaming overlaps
    another's thinking."""
    gate = asyncio.Semaphore(concurrency)

    async def one(clip) -> TurnRecord:
        async with gate:
            try:
                audio = load_clip(clip.path, RATE)
                async with Caller(url, rate=RATE) as caller:
                    await caller.silence(0.3)
                    rec = await speak_turn(caller, audio)
            except Exception as exc:  # one broken clip is a row in the report, not the end of the run
                rec = TurnRecord(error=f"{type(exc).__name__}: {exc}")
            if progress:
                progress.update(1)
            return rec

    return await asyncio.gather(*(one(c) for c in clips))


# --- the suite -----------------------------------------------------------------------------------

def add_arguments(p) -> None:
    p.add_argument("--url", help="ws:// URL of a running server (default: start one on the embedded models)")
    p.add_argument("--server-args", default="", help="extra `warmline serve` flags for the started server")
    p.add_argument("--root", help="folder of labelled clips (default: ../shared/data/paralinguistics)")
    p.add_argument("--manifest", help="manifest CSV (path,label,speaker[,script][,dataset]); default ROOT/manifest.csv")
    p.add_argument("--datasets", default="ravdess,tess", help="datasets of the manifest to use (default ravdess,tess)")
    p.add_argument("--groups", type=int, help="script groups to run (default 24; --quick 2)")
    p.add_argument("--emotions", help="deliveries to use, e.g. neutral,sad,angry,happy (default all; --quick "
                   + ",".join(QUICK_EMOTIONS) + ")")
    p.add_argument("--concurrency", type=int, default=2, help="sessions at once (default 2)")
    p.add_argument("--no-emoalign", action="store_true", help="skip classifying the spoken replies")
    add_judge_arguments(p)


def run(args) -> dict:
    root = Path(args.root) if args.root else paralinguistics_root()
    if root is None:
        msg = ("skipped: no labelled emotional speech (../shared/data/paralinguistics/manifest.csv is absent; "
               "point --root/--manifest at a folder of your own clips)")
        return {"skipped": msg, "report_markdown": f"# Empathy\n\n{msg}\n"}
    manifest = Path(args.manifest) if args.manifest else root / "manifest.csv"
    emotions = args.emotions or (",".join(QUICK_EMOTIONS) if args.quick else None)
    emotions = tuple(S.canonical_emotion(e) for e in emotions.split(",")) if emotions else None
    clips = load_clips(root, manifest, tuple(args.datasets.split(",")))
    groups = select_groups(clips, args.groups or (2 if args.quick else 24), emotions)
    if not groups:
        msg = f"skipped: no script group with a neutral and an emotional delivery in {manifest}"
        return {"skipped": msg, "report_markdown": f"# Empathy\n\n{msg}\n"}
    chosen = [c for cs in groups.values() for c in cs]

    from tqdm import tqdm

    bar = tqdm(total=len(chosen), desc="empathy", unit="clip")
    t0 = time.monotonic()
    if args.url:
        records = asyncio.run(run_clips(args.url, chosen, concurrency=args.concurrency, progress=bar))
    else:
        from benchmarks.server_proc import running_server

        with running_server(args.server_args.split()) as base:
            url = base.replace("http://", "ws://") + "/v1/realtime"
            records = asyncio.run(run_clips(url, chosen, concurrency=args.concurrency, progress=bar))
    bar.close()
    dialogue_s = time.monotonic() - t0
    result = score(chosen, records)
    result["dialogue_seconds"] = round(dialogue_s, 1)
    result["data"] = {"root": str(root), "manifest": str(manifest), "groups": len(groups), "clips": len(chosen),
                      "datasets": dict(Counter(c.dataset for c in chosen)), "emotions": dict(Counter(c.emotion for c in chosen)),
                      "slice": "quick: a few groups only" if args.quick else "full selection"}
    result["emo_align"] = _emo_align(chosen, records) if not args.no_emoalign else {"skipped": "--no-emoalign"}
    result["judge"] = _judge(args, chosen, records) if not args.no_judge else {"skipped": "--no-judge"}
    result["per_clip"] = [{"path": str(c.path), "dataset": c.dataset, "speaker": c.speaker, "script": c.script,
                           "emotion": c.emotion, **r.summary(), "judge": r_j}
                          for c, r, r_j in zip(chosen, records, result["judge"].pop("per_clip", [None] * len(chosen)))]
    result["report_markdown"] = report(result)
    return result


def score(clips: list[Clip], records: list[TurnRecord]) -> dict:
    ok = [bool(r.reply_emotion and r.status == "completed") for r in records]
    pairs = [(c.emotion, r.reply_emotion) for c, r in zip(clips, records)]
    groups: dict[str, dict[str, str | None]] = defaultdict(dict)
    for c, r in zip(clips, records):
        groups[c.group][c.emotion] = r.reply_emotion
    heard = [(c.emotion, (r.heard or {}).get("emotion", {}).get("label")) for c, r in zip(clips, records) if r.heard]
    heard_right = [(c.emotion, r.reply_emotion) for c, r in zip(clips, records)
                   if r.heard and (r.heard.get("emotion") or {}).get("label") == c.emotion]
    return {
        "clips_answered": sum(ok), "clips_failed": len(ok) - sum(ok),
        "failures": dict(Counter(r.error or f"status {r.status}" for r, good in zip(records, ok) if not good)),
        "reply_emotion_alignment": S.alignment(pairs),
        "constant_reply_alignment": S.constant_reply_alignment([c.emotion for c in clips]),
        "alignment_when_emotion_heard_right": S.alignment(heard_right)["alignment"],
        "sensitivity": S.sensitivity(dict(groups)),
        "pairwise_discrimination": S.pairwise_discrimination(dict(groups)),
        "reply_tones_by_delivery": S.reply_confusion(pairs),
        "heard_emotion_accuracy": S.share([h == e for e, h in heard]),
        "heard_emotion_by_delivery": S.reply_confusion(heard),
        "reply_tone_counts": dict(Counter(r.reply_emotion or "none" for r in records)),
    }


def _emo_align(clips: list[Clip], records: list[TurnRecord]) -> dict:
    try:
        from paralinguistics.analyser import VoiceAnalyser

        analyser = VoiceAnalyser(device="cpu")
    except Exception as exc:  # the heads may not be trained in this checkout
        return {"skipped": f"voice analyser unavailable: {type(exc).__name__}: {exc}"}
    pairs, rows, per_clip = [], [], []
    for r in records:
        if r.reply_emotion not in S.TONE_VOICE or len(r.audio) < RATE // 2:
            continue
        profile = analyser.analyse(r.audio).to_dict()
        label = profile["emotion"]["label"] if not profile.get("unknown") else None
        pairs.append((r.reply_emotion, label))
        rows.append((r.reply_emotion, profile["valence"], profile["arousal"]))
        per_clip.append({"tone": r.reply_emotion, "heard": label})
    out = S.emo_align(pairs)
    out["prosody_by_tone"] = S.prosody_by_tone(rows)
    out["heard_by_tone"] = S.reply_confusion([(t, h) for t, h in pairs]) if pairs else {}
    return out


def _judge(args, clips: list[Clip], records: list[TurnRecord]) -> dict:
    try:
        judge = Judge.from_args(args)
    except Exception as exc:
        return {"skipped": f"judge unavailable: {type(exc).__name__}: {exc}", "per_clip": [None] * len(clips)}
    from tqdm import tqdm

    per_clip, scores = [], []
    try:
        for c, r in tqdm(list(zip(clips, records)), desc="judge", unit="reply"):
            if not r.reply_text:
                per_clip.append(None)
                continue
            try:
                verdict = judge.score(c.script, f"the speaker sounded {c.emotion}", r.reply_text)
            except Exception as exc:  # an endpoint hiccup loses one score, not the run
                verdict = {"scores": S.parse_judge(""), "raw": f"error: {exc}"}
            per_clip.append(verdict)
            scores.append(verdict["scores"])
        calibration = {name: judge.score(*case)["scores"] for name, case in JUDGE_CALIBRATION.items()}
    finally:
        judge.close()
    return {"model": judge.name, "embedded": judge.embedded, **S.judge_summary(scores),
            "calibration": calibration, "per_clip": per_clip}


# A fitting and a plainly unfitting reply to the same sad turn: a judge worth reading scores them apart.
JUDGE_CALIBRATION = {
    "fitting": ("Kids are talking by the door.", "the speaker sounded sad",
                "You sound a bit low. Is something weighing on you?"),
    "unfitting": ("Kids are talking by the door.", "the speaker sounded sad",
                  "WOW, amazing!!! Here is a list: 1. kids 2. doors 3. talking. Anything else I can help with?"),
}


# --- the report ----------------------------------------------------------------------------------

def embedded_judge_caveat(model: str, calibration: dict) -> str:
    """What the embedded judge's scores are worth, from its own calibration pair."""
    gap = [calibration["fitting"][k] - calibration["unfitting"][k] for k in S.JUDGE_CRITERIA
           if calibration["fitting"].get(k) is not None and calibration["unfitting"].get(k) is not None]
    reads = f"it scored the fitting reply {sum(gap) / len(gap):+.1f} points above the unfitting one on average" \
        if gap else "its calibration answers could not be parsed"
    return (f"The judge here is the embedded `{model}`: a small code model from the same family that wrote the "
            f"replies, grading empathy; {reads}. Treat its marks as a coarse check, not as figures comparable "
            "with EchoMind's (GPT-4o judge): for those, pass --judge-endpoint/--judge-model of a strong model.")


def report(r: dict) -> str:
    al, se, pw = r["reply_emotion_alignment"], r["sensitivity"], r["pairwise_discrimination"]
    md = ["# Empathy: the same words said in different emotions", "",
          f"Data: {r['data']['clips']} clips in {r['data']['groups']} script groups ({r['data']['slice']}); "
          f"{r['data']['datasets']}. Each clip went through the whole system in a fresh session (server VAD, "
          f"ASR, voice analysis, dialogue, voice). Answered: {r['clips_answered']}, failed: {r['clips_failed']} "
          f"{r['failures'] or ''}.", "",
          table(["metric", "value"], [
              ["reply-emotion alignment", al["alignment"]],
              [f"... by always answering {r['constant_reply_alignment']['tone']} (chance bar)",
               r["constant_reply_alignment"]["alignment"]],
              ["sensitivity (groups moving the right way)", se["sensitivity"]],
              ["mean group score", round(se["mean_group_score"], 3)],
              ["replies differ from the neutral delivery's", se["replies_differ"]],
              ["pairwise discrimination", pw["pairwise_discrimination"]],
              ["voice analyser heard the acted emotion", r["heard_emotion_accuracy"]],
              ["alignment when the emotion was heard right", r["alignment_when_emotion_heard_right"]],
          ]), "", "## Reply tone by delivered emotion", "",
          _crosstab(r["reply_tones_by_delivery"], S.REPLY_TONES + ("none",)), "",
          "Expected: " + "; ".join(f"{e} -> {'/'.join(t)}" for e, t in S.EXPECTED_REPLY.items()) + ".", ""]
    path = plot_path("empathy_reply_tones")
    if path and r["reply_tones_by_delivery"]:
        _plot(r["reply_tones_by_delivery"], path)
        md += [f"![reply tone by delivered emotion]({path.name})", ""]
    md += ["## What the voice analyser heard", "", _crosstab(r["heard_emotion_by_delivery"], tuple(S.EXPECTED_REPLY) + ("unknown",)), ""]
    j = r["judge"]
    md += ["## Judge (EchoMind's criteria, 1-5)", ""]
    if "skipped" in j:
        md += [j["skipped"], ""]
    else:
        md += [f"Judge: `{j['model']}`; unparsed answers: {j['unparsed']}.", "",
               table(["criterion", "mean", "n", "calibration: fitting reply", "unfitting reply"],
                     [[k, j[k]["mean"], j[k]["n"], j["calibration"]["fitting"][k], j["calibration"]["unfitting"][k]]
                      for k in S.JUDGE_CRITERIA]), "",
               "Calibration: the same sad turn answered once fittingly and once with a cheerful list; a useful "
               "judge scores the second far lower.", ""]
        if j["embedded"]:
            md += [embedded_judge_caveat(j["model"], j["calibration"]), ""]
    e = r["emo_align"]
    md += ["## EmoAlign: does the spoken reply sound like its tone?", ""]
    if "skipped" in e:
        md += [e["skipped"], ""]
    else:
        md += [f"EmoAlign {e['emo_align']} over {e['n']} replies (the voice analyser on the reply audio; "
               "it was trained on acted human speech, so a synthetic voice is out of its domain).", "",
               table(["tone", "emo_align", "n", "heard valence", "heard arousal"],
                     [[t, v["emo_align"], v["n"], e["prosody_by_tone"][t]["valence"], e["prosody_by_tone"][t]["arousal"]]
                      for t, v in e["per_tone"].items()]), ""]
    md += ["Caveats: the voice analyser's heads were trained on these corpora (speakers held out where the "
           "data folder says so), so the perception here may be optimistic; RAVDESS clips are cut at 2.39 s.", ""]
    return "\n".join(md)


def _crosstab(rows: dict[str, dict[str, int]], columns: tuple) -> str:
    cols = [c for c in columns if any(c in v for v in rows.values())]
    return table(["delivered"] + cols, [[e] + [v.get(c, 0) for c in cols] for e, v in rows.items()])


def _plot(rows: dict[str, dict[str, int]], path) -> None:
    """Heat map: delivered emotion (rows) x reply tone (columns), fitting cells outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    emotions, tones = list(rows), list(S.REPLY_TONES) + ["none"]
    grid = np.array([[rows[e].get(t, 0) for t in tones] for e in emotions], dtype=float)
    share = grid / np.maximum(grid.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(emotions) + 1.5))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i, e in enumerate(emotions):
        for j, t in enumerate(tones):
            if grid[i, j]:
                ax.text(j, i, int(grid[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
            if t in S.EXPECTED_REPLY.get(e, ()):
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="darkgreen", lw=1.5))
    ax.set_xticks(range(len(tones)), tones, rotation=30)
    ax.set_yticks(range(len(emotions)), emotions)
    ax.set(xlabel="reply tone", ylabel="delivered emotion", title="Reply tone by delivery (green: fits)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
