"""Layout and packaging: plugin folders live under the ``bench`` namespace and never shadow
well-known top-level packages such as Hugging Face's ``datasets``."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO_ROOT


def test_plugin_folders_map_into_bench():
    import bench.datasets.synthetic
    import bench.methods.lsh

    assert Path(bench.methods.lsh.__file__).parent == REPO_ROOT / "methods" / "lsh"
    assert Path(bench.datasets.synthetic.__file__).parent == REPO_ROOT / "datasets" / "synthetic"


def test_top_level_plugin_folders_are_not_regular_packages():
    for folder in ("methods", "datasets"):
        assert not (REPO_ROOT / folder / "__init__.py").exists(), folder


def test_no_shadowing_of_huggingface_datasets(tmp_path):
    """From the repository root (on sys.path first), a regular package named ``datasets``
    installed later on the path (standing in for Hugging Face's) still wins."""
    fake = tmp_path / "site" / "datasets"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("IS_HF = True\n")
    code = ("import datasets, bench.datasets.synthetic as s; "
            "print(getattr(datasets, 'IS_HF', False), s.SPEC.name)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                         text=True, env={"PYTHONPATH": str(tmp_path / "site"),
                                         "PATH": "/usr/bin:/bin"}, check=True)
    assert out.stdout.split() == ["True", "synthetic-features"]


def test_wheel_installs_everything_under_bench(tmp_path):
    """A regular (non-editable) install puts the plugin folders under bench/ only."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO_ROOT)], check=True, capture_output=True,
                   cwd=tmp_path)
    wheel = next(tmp_path.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith((".dist-info", ".data"))} == {"bench"}
    assert "bench/methods/lsh/method.py" in names
    assert "bench/datasets/synthetic/generate.py" in names
    # every package (found by scanning in setup.py) is in the wheel: no hand-kept list to forget
    for folder, prefix in (("methods", "bench/methods"), ("datasets", "bench/datasets"),
                           ("bench", "bench")):
        for init in (REPO_ROOT / folder).rglob("__init__.py"):
            rel = init.relative_to(REPO_ROOT / folder).as_posix()
            assert f"{prefix}/{rel}" in names, rel


def test_default_job_needs_only_the_core_install(tmp_path):
    """open_clip (the bundled CLIP of the default data) is a core dependency; without it the
    default job stops with one line naming the package, before anything runs."""
    from importlib.metadata import requires

    core = {d.split(">")[0].split("=")[0].split("[")[0].split(";")[0].strip().lower()
            for d in requires("cmh-bench") or () if "extra ==" not in d}
    assert {"open_clip_torch", "torchvision", "mambapy"} <= core
    code = ("import sys; sys.modules['open_clip'] = None; from bench.cli import main; "
            f"raise SystemExit(main(['run', '--methods', 'lsh,cca-itq', '--results', "
            f"{str(tmp_path / 'r')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "needs open_clip_torch" in lines[0] and "pip install" in lines[0]
    assert not (tmp_path / "r" / "cache").exists()
