"""The plugin registry: lazy, strict, open to entry points."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import registry
from bench.errors import PluginError
from bench.plugins import MethodSpec
from bench.registry import Registry


def test_builtins_are_listed():
    assert {"lsh", "cca-itq"} <= set(registry.methods.names())
    assert "synthetic-features" in registry.datasets.names()


def test_listing_imports_nothing_heavy():
    code = (
        "import sys; from bench import registry\n"
        "[registry.methods.get(n) for n in registry.methods.names()]\n"
        "[registry.datasets.get(n) for n in registry.datasets.names()]\n"
        "heavy = [m for m in ('torch', 'ray', 'mlflow', 'open_clip', 'optuna')\n"
        "         if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_name_suggests():
    with pytest.raises(PluginError, match="did you mean 'cca-itq'"):
        registry.methods.get("cca_itq")
    with pytest.raises(PluginError, match="unknown dataset"):
        registry.datasets.get("nope")


def test_duplicate_names_fail():
    reg = Registry("method", MethodSpec, {"lsh": "bench.methods.lsh:SPEC"}, "bench.no-such-group")
    with pytest.raises(PluginError, match="duplicate method name 'lsh'"):
        reg.register("lsh", "other.module:SPEC")


def test_spec_name_must_match():
    reg = Registry("method", MethodSpec, {"wrong": "bench.methods.lsh:SPEC"}, "bench.none")
    with pytest.raises(PluginError, match="spec is named 'lsh'"):
        reg.get("wrong")


def test_entry_points_are_discovered(monkeypatch):
    from importlib.metadata import EntryPoint

    eps = [EntryPoint("third-party", "bench.methods.lsh:SPEC", "bench.methods"),
           EntryPoint("lsh", "someone.else:SPEC", "bench.methods")]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps[:1])
    reg = Registry("method", MethodSpec, {"lsh": "bench.methods.lsh:SPEC"}, "bench.methods")
    assert "third-party" in reg.names()
    monkeypatch.setattr(registry, "entry_points", lambda group: eps)
    reg = Registry("method", MethodSpec, {"lsh": "bench.methods.lsh:SPEC"}, "bench.methods")
    with pytest.raises(PluginError, match="duplicate method name 'lsh'"):
        reg.names()


def test_parse_list():
    assert registry.methods.parse_list("lsh, cca-itq") == ["lsh", "cca-itq"]
    with pytest.raises(PluginError, match="no method given"):
        registry.methods.parse_list(" , ")
    with pytest.raises(PluginError, match="listed twice"):
        registry.methods.parse_list("lsh,lsh")


def test_specs_are_consistent():
    for name in registry.methods.names():
        spec = registry.methods.get(name)
        assert spec.version and spec.reference
        assert set(spec.search_space) <= set(spec.defaults), name
        if spec.supervision == "unsupervised":
            assert "labels" not in spec.inputs


def _plugin_tree(tmp_path, monkeypatch, folders: dict[str, str], pkg: str) -> str:
    root = tmp_path / pkg
    root.mkdir()
    (root / "__init__.py").write_text("")
    for name, body in folders.items():
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    return pkg


SPEC_SRC = ("from bench.plugins import MethodSpec\n"
            "SPEC = MethodSpec(name={name!r}, entry='x:Y', version='1', "
            "supervision='unsupervised', inputs=('image_features',), multi_bit=False)\n")


def test_builtins_are_found_by_scanning_the_folders(tmp_path, monkeypatch):
    from bench.registry import scan_builtins

    pkg = _plugin_tree(tmp_path, monkeypatch, {"alpha": SPEC_SRC.format(name="alpha"),
                                               "beta_two": SPEC_SRC.format(name="beta-two"),
                                               "notes": "X = 1\n"}, "plugtree")
    assert scan_builtins(pkg, MethodSpec) == {"alpha": "plugtree.alpha:SPEC",
                                              "beta-two": "plugtree.beta_two:SPEC"}
    reg = Registry("method", MethodSpec, pkg, "bench.no-such-group")
    assert reg.names() == ["alpha", "beta-two"]


def test_scanning_refuses_duplicates_and_broken_folders(tmp_path, monkeypatch):
    from bench.registry import scan_builtins

    pkg = _plugin_tree(tmp_path, monkeypatch, {"a": SPEC_SRC.format(name="same"),
                                               "b": SPEC_SRC.format(name="same")},
                       "plugdup")
    with pytest.raises(PluginError, match="duplicate MethodSpec name 'same'"):
        scan_builtins(pkg, MethodSpec)
    (tmp_path / "plugdup" / "b" / "__init__.py").write_text("raise RuntimeError('boom')\n")
    sys.modules.pop("plugdup.b", None)
    with pytest.raises(PluginError, match="plugdup.b cannot be imported: RuntimeError: boom"):
        scan_builtins(pkg, MethodSpec)
