"""Model assembly on small packages the test builds itself."""
import sys

import pytest

from server import models


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    root = tmp_path / "site"
    for i, payload in enumerate([b"GGUF" + b"a" * 5000, b"b" * 3000], start=1):
        pkg = root / f"fakeparts_p{i}" / "data"
        pkg.mkdir(parents=True)
        (pkg.parent / "__init__.py").write_text("")
        (pkg / f"part{i:02d}.bin").write_bytes(payload)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("WARMLINE_HOME", str(tmp_path / "home"))
    entry = models.Entry("fake-llm", "llm", "test", parts=(("fakeparts_p1", "data/part01.bin"),
                                                         ("fakeparts_p2", "data/part02.bin")),
                         output="fake.gguf", magic=b"GGUF")
    monkeypatch.setitem(models.CATALOG, "fake-llm", entry)
    for name in ("fakeparts_p1", "fakeparts_p2"):
        sys.modules.pop(name, None)
    return entry


def test_assemble_joins_parts_once_and_verifies(fake_packages, tmp_path):
    calls = []
    path = models.assemble("fake-llm", progress=lambda d, t: calls.append((d, t)))
    assert path.read_bytes() == b"GGUF" + b"a" * 5000 + b"b" * 3000
    assert calls[-1] == (8004, 8004)
    assert models.is_assembled(fake_packages) and models.verify("fake-llm")
    mtime = path.stat().st_mtime_ns
    assert models.assemble("fake-llm") == path and path.stat().st_mtime_ns == mtime  # reused
    path.write_bytes(b"GGUF" + b"x" * 8000)  # same size, different bytes
    assert not models.verify("fake-llm")


def test_damaged_part_is_refused(fake_packages, tmp_path):
    part = tmp_path / "site" / "fakeparts_p1" / "data" / "part01.bin"
    part.write_bytes(b"JUNK" + b"a" * 5000)
    with pytest.raises(models.ModelMissing, match="does not start with"):
        models.assemble("fake-llm")
    assert not models.is_assembled(fake_packages)


def test_a_split_zip_is_joined_and_unpacked_to_its_folder(tmp_path, monkeypatch):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("enc/config.json", '{"hidden_size": 8}')
        z.writestr("enc/1_Pooling/config.json", "{}")
    data = buf.getvalue()
    root = tmp_path / "site"
    halves = [data[:len(data) // 2], data[len(data) // 2:]]
    for i, payload in enumerate(halves, start=1):
        pkg = root / f"zipparts-p_{i:03d}" / "input"  # hyphens, as the registry's split-zip packages name theirs
        pkg.mkdir(parents=True)
        (pkg.parent / "__init__.py").write_text("")
        (pkg / f"enc.zip.{i:03d}").write_bytes(payload)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("WARMLINE_HOME", str(tmp_path / "home"))
    entry = models.Entry("fake-enc", "text", "test", parts=tuple((f"zipparts-p_{i:03d}", f"input/enc.zip.{i:03d}") for i in (1, 2)),
                         output="enc.zip", unpack="enc", magic=b"PK")
    monkeypatch.setitem(models.CATALOG, "fake-enc", entry)
    path = models.assemble("fake-enc")
    assert path == tmp_path / "home" / "models" / "fake-enc" / "enc"
    assert (path / "config.json").read_text() == '{"hidden_size": 8}' and (path / "1_Pooling" / "config.json").exists()
    assert not (path.parent / "enc.zip").exists()  # the zip is not kept beside what it held
    assert models.is_assembled(entry) and models.verify("fake-enc")
    (path / "config.json").write_text('{"hidden_size": 9}')
    assert not models.verify("fake-enc")
    (path / "config.json").unlink()
    assert not models.is_assembled(entry)
    assert models.assemble("fake-enc") == path and (path / "config.json").read_text() == '{"hidden_size": 8}'


def test_missing_package_names_the_fix(monkeypatch):
    entry = models.Entry("ghost", "llm", "x", parts=(("no_such_pkg_xyz", "data/p.bin"),), output="g.gguf")
    monkeypatch.setitem(models.CATALOG, "ghost", entry)
    with pytest.raises(models.ModelMissing, match="scripts/install"):
        models.assemble("ghost")


def test_resolve_passes_other_specs_through():
    assert models.resolve("/some/model.gguf") == "/some/model.gguf"
    assert models.resolve("large-v3") == "large-v3"


def test_models_command_lists_the_catalog():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "server.cli", "models", "--list"], capture_output=True, text=True,
                         timeout=60, cwd=models.Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    for name in ("silero-vad", "whisper-base", "qwen2.5-0.5b", "piper-joe", "resemblyzer"):
        assert name in out.stdout
    assert "model cache:" in out.stdout


def test_models_command_rejects_unknown_names():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "server.cli", "models", "gpt-17"], capture_output=True, text=True,
                         timeout=60, cwd=models.Path(__file__).resolve().parent.parent)
    assert out.returncode == 2 and "unknown model" in out.stderr


@pytest.mark.parametrize("flag, stage", [("--asr-model", "asr"), ("--voice-heads", "paralinguistics")])
def test_serve_reports_a_model_that_fails_to_load(tmp_path, flag, stage):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port", "0", flag,
                          str(tmp_path / "no-such-model")], capture_output=True, text=True, timeout=180,
                         cwd=models.Path(__file__).resolve().parent.parent)
    assert out.returncode == 2
    assert f"could not load the {stage} model" in out.stderr
