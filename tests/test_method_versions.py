"""Every built-in method keeps its declared version honest and its parameter rules valid
(data-driven over all registered methods: a new plugin is covered without editing this file).

A failure message says exactly what to do: when a method's source changed, decide whether its
results can change (then bump ``SPEC.version``, part of every result key) and record the new
fingerprint with ``python -m bench validate NAME --update-fingerprint``."""

from __future__ import annotations

import pytest
from conftest import REPO_ROOT

from bench import registry
from bench.fingerprint import fingerprint_problem, method_package_dir
from bench.params import check_defaults


def builtin_methods() -> list[str]:
    out = []
    for name in registry.methods.names():
        folder = method_package_dir(registry.methods.get(name))
        if folder is not None and folder.resolve().is_relative_to(REPO_ROOT / "methods"):
            out.append(name)
    return out


@pytest.mark.parametrize("name", builtin_methods())
def test_declared_version_matches_the_recorded_source(name):
    problem = fingerprint_problem(registry.methods.get(name))
    assert problem is None, problem


@pytest.mark.parametrize("name", registry.methods.names())
def test_defaults_satisfy_their_parameter_rules(name):
    check_defaults(registry.methods.get(name))


def test_a_source_change_without_a_new_fingerprint_is_caught(tmp_path, monkeypatch):
    from bench.fingerprint import write_fingerprint
    from bench.plugins import MethodSpec

    pkg = tmp_path / "my_plugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "method.py").write_text("def encode():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = MethodSpec(name="mine", entry="my_plugin.method:Mine", version="1",
                      supervision="unsupervised", inputs=("image_features",), multi_bit=False)
    assert "no entry" in fingerprint_problem(spec)
    write_fingerprint(spec)
    assert fingerprint_problem(spec) is None
    (pkg / "method.py").write_text("def encode():\n    return 2\n")
    problem = fingerprint_problem(spec)
    assert "source changed since version '1'" in problem and "bump SPEC.version" in problem
    assert "python -m bench validate mine --update-fingerprint" in problem
    bumped = MethodSpec(name="mine", entry="my_plugin.method:Mine", version="2",
                        supervision="unsupervised", inputs=("image_features",), multi_bit=False)
    assert "records version '1'" in fingerprint_problem(bumped)
    write_fingerprint(bumped)
    assert fingerprint_problem(bumped) is None


def test_a_change_to_a_building_block_the_method_imports_is_caught(tmp_path, monkeypatch):
    """Shared method code in the harness (bench.deep, bench.shallow, ...) is part of the
    fingerprint of every method importing it, directly or through another block; blocks the
    method does not import are not."""
    import bench.fingerprint as fingerprint
    from bench.plugins import MethodSpec

    root = tmp_path / "bench"
    (root / "deep").mkdir(parents=True)
    (root / "deep" / "__init__.py").write_text("")
    (root / "deep" / "nets.py").write_text("from .losses import loss\n")
    (root / "deep" / "losses.py").write_text("def loss():\n    return 1\n")
    (root / "deep" / "unused.py").write_text("X = 1\n")
    monkeypatch.setattr(fingerprint, "_BENCH_ROOT", root)
    pkg = tmp_path / "plug" / "blocky"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "method.py").write_text("from bench.deep.nets import loss\nimport numpy\n")
    monkeypatch.syspath_prepend(str(tmp_path / "plug"))
    spec = MethodSpec(name="blocky", entry="blocky.method:M", version="1",
                      supervision="unsupervised", inputs=("image_features",), multi_bit=False)
    before = fingerprint.method_source(spec)
    (root / "deep" / "unused.py").write_text("X = 2\n")
    assert fingerprint.method_source(spec) == before
    (root / "deep" / "losses.py").write_text("def loss():\n    return 2\n")
    changed = fingerprint.method_source(spec)
    assert changed != before
    (root / "deep" / "__init__.py").write_text("# package code runs on import\n")
    assert fingerprint.method_source(spec) != changed


def test_records_reuse_the_source_fingerprint_of_the_code_the_process_imported(tmp_path,
                                                                               monkeypatch):
    """A trial's record carries the fingerprint of the code its process runs: computed once per
    process (not re-hashed every trial), so an edit after import does not change it."""
    import bench.fingerprint as fingerprint
    from bench.plugins import MethodSpec

    pkg = tmp_path / "cachedplug"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "method.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(fingerprint, "_RUNNING", {})
    spec = MethodSpec(name="cachedplug", entry="cachedplug.method:M", version="1",
                      supervision="unsupervised", inputs=("image_features",), multi_bit=False)
    first = fingerprint.running_method_source(spec)
    assert first == fingerprint.method_source(spec)
    (pkg / "method.py").write_text("X = 2\n")
    assert fingerprint.running_method_source(spec) == first
    assert fingerprint.method_source(spec) != first
