"""PromptHash's supervised peers (DCHMT, MITH, DSPH, DCMH on frozen features and end to end):
shapes, determinism, every loss term finite and contributing, checkpoint round trips, no label
use at encoding, selection on the validation split, and each method's own formulas. All on
COCO-MINI images and captions with a small randomly initialised open_clip model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_CLIP

from bench import registry
from bench.plugins import FitContext, PairedData

#: A tiny open_clip CLIP (random init), passed as a config dict through ``clip_model``.
TINY = TINY_CLIP
END_TO_END = ("dchmt", "mith", "dsph", "dcmh-e2e")
METHODS = (*END_TO_END, "dcmh")
BITS = 16


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def coco(shared_data, tmp_path_factory) -> PairedData:
    """24 COCO-MINI pairs (image paths, one caption each, 80-class multi-labels), with frozen
    features from the tiny CLIP for ``dcmh``."""
    root = shared_data / "coco-mini"
    if not (root / "annotations").is_dir():
        pytest.skip(f"{root} is absent")
    from bench.encoders.backbone import load_backbone

    ds = registry.datasets.get("coco").load()(root, tmp_path_factory.mktemp("cache")).load()
    items = ds.items.subset(np.arange(24))
    torch.manual_seed(0)
    bb = load_backbone(TINY)
    loader = bb.image_loader(train_mode="center", eval_mode="center")
    with torch.no_grad():
        items.image_features = bb.clip.encode_image(
            loader.batch(items.index, items.images, train=False)).numpy()
        items.text_features = bb.clip.encode_text(bb.captions(items.captions)).numpy()
    items.class_names = list(ds.class_names)
    return items


def make(name: str, seed: int = 0, **params):
    spec = registry.methods.get(name)
    base = {"epochs": 1, "batch_size": 6, "eval_batch_size": 5, "selection": "final"}
    if name == "dcmh" or name == "dcmh-e2e":
        base["hidden"] = 32
    if name != "dcmh":
        base["clip_model"] = TINY
    return spec.load()((BITS,), {**base, **params}, seed)


def view(data: PairedData, name: str, labels: bool = True) -> PairedData:
    """What the harness hands ``name``: only its declared inputs (labels when asked)."""
    inputs = [k for k in registry.methods.get(name).inputs if labels or k != "labels"]
    return data.only(inputs)


def ctx(tmp_path: Path, validate=lambda: None) -> FitContext:
    return FitContext(validation=None, seed=0, device="cpu", workdir=tmp_path, dataset="coco",
                      validate=validate, log=lambda msg: None)


@pytest.fixture(scope="module")
def fitted(coco, tmp_path_factory):
    """One fitted model per method (1 epoch on 18 pairs) and its working folder."""
    out = {}
    for name in METHODS:
        work = tmp_path_factory.mktemp(name)
        m = make(name, seed=3)
        m.fit(view(coco.subset(np.arange(18)), name), ctx(work))
        out[name] = (m, work)
    return out


def codes_of(m, data: PairedData) -> dict:
    return {mod: m.encode(data, mod) for mod in ("image", "text")}


# -- the harness contract ----------------------------------------------------------------------

def test_specs_are_light_and_honest():
    import subprocess
    import sys

    code = ("import json, sys; from bench import registry; "
            f"s = [registry.methods.get(n) for n in {list(METHODS)!r}]; "
            "print(json.dumps([[x.labels_at_encode, x.multi_bit] for x in s] "
            "+ ['torch' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == [[False, False]] * len(METHODS) + [False]
    for name in METHODS:
        spec = registry.methods.get(name)
        assert spec.supervision == "supervised" and "labels" in spec.inputs
        assert {"reference", "quick"} <= set(spec.load().SCHEDULES)


@pytest.mark.parametrize("name", METHODS)
def test_parameter_rules_reject_bad_values(name):
    from bench.errors import BenchError
    from bench.params import method_params

    spec = registry.methods.get(name)
    ok = method_params(spec, {"schedule": "quick", "epochs": 2, "max_train": None})
    assert (ok["schedule"], ok["epochs"], ok["max_train"]) == ("quick", 2, None)
    for bad in ({"schedule": "fast"}, {"epochs": 0}, {"amp": "fp16"},
                {"unfreeze_blocks": "some"} if "unfreeze_blocks" in spec.defaults else
                {"max_train": -1}):
        with pytest.raises(BenchError):
            method_params(spec, bad)


@pytest.mark.parametrize("name", METHODS)
def test_shapes_and_codes(name, coco, fitted):
    m, _ = fitted[name]
    test = view(coco.subset(np.arange(18, 24)), name, labels=False)
    codes = codes_of(m, test)
    for mod in ("image", "text"):
        assert set(codes[mod]) == {BITS}
        c = codes[mod][BITS]
        assert c.shape == (6, BITS) and c.dtype == np.int8 and set(np.unique(c)) <= {-1, 1}


@pytest.mark.parametrize("name", METHODS)
def test_fit_is_deterministic(name, coco, fitted, tmp_path):
    m, _ = fitted[name]
    again = make(name, seed=3)
    again.fit(view(coco.subset(np.arange(18)), name), ctx(tmp_path))
    test = view(coco.subset(np.arange(18, 24)), name, labels=False)
    a, b = codes_of(m, test), codes_of(again, test)
    for mod in ("image", "text"):
        assert np.array_equal(a[mod][BITS], b[mod][BITS])
    assert m.history[0]["loss" if name not in ("dcmh", "dcmh-e2e") else "nll_i"] == \
        again.history[0]["loss" if name not in ("dcmh", "dcmh-e2e") else "nll_i"]


@pytest.mark.parametrize("name", METHODS)
def test_no_label_use_at_encoding(name, coco, fitted):
    m, _ = fitted[name]
    assert registry.methods.get(name).labels_at_encode is False
    test = coco.subset(np.arange(12, 24))
    shuffled = test.subset(np.arange(12))
    shuffled.labels = test.labels[np.random.default_rng(1).permutation(12)]
    base = codes_of(m, view(test, name, labels=False))
    for other in (shuffled, test):  # labels present (shuffled or not) change nothing
        got = codes_of(m, other.only([*registry.methods.get(name).inputs]))
        for mod in ("image", "text"):
            assert np.array_equal(base[mod][BITS], got[mod][BITS])


@pytest.mark.parametrize("name", METHODS)
def test_checkpoint_round_trip(name, coco, fitted):
    m, work = fitted[name]
    path = work / m.checkpoint_file
    assert path.is_file()
    other = make(name, seed=11)  # another seed: the checkpoint's seed rebuilds frozen parts
    other.load_checkpoint(path)
    test = view(coco.subset(np.arange(18, 24)), name, labels=False)
    a, b = codes_of(m, test), codes_of(other, test)
    for mod in ("image", "text"):
        assert np.array_equal(a[mod][BITS], b[mod][BITS])
    with pytest.raises(ValueError, match="other settings"):
        make(name, seed=3, epochs=7).load_checkpoint(path)
    if name != "dsph":
        with pytest.raises(ValueError, match="method"):
            make("dsph", seed=3).load_checkpoint(path)


# -- loss terms ----------------------------------------------------------------------------------

def _batch(m, data: PairedData, rows: np.ndarray):
    images = m.images.batch(data.index[rows], [data.images[i] for i in rows], train=True,
                            generator=torch.Generator().manual_seed(0))
    return images, m.captions(data)[rows]


def _contributes(term: torch.Tensor, params: list[torch.nn.Parameter]) -> float:
    grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
    return sum(float(g.abs().sum()) for g in grads if g is not None)


@pytest.mark.parametrize("name,params,expected", [
    ("dchmt", {}, {f"sim_{p}_{s}" for p in ("it", "ii", "tt") for s in ("pos", "neg")}),
    ("dchmt", {"hash_layer": "linear"}, {f"sim_{p}_{s}" for p in ("it", "ii", "tt")
                                         for s in ("pos", "neg")} | {"quan"}),
    ("mith", {}, {"tokens_intra", "cls_inter", "quantization", "info_nce_global",
                  "info_nce_tokens", "distillation"}),
    ("dsph", {"threshold": -0.5}, {"proxy_pos_i", "proxy_neg_i", "proxy_pos_t",
                                   "proxy_neg_t", "pair_ii", "pair_tt", "pair_it"}),
])
def test_every_loss_term_is_finite_and_contributes(name, params, expected, coco):
    m = make(name, seed=1, **params)
    data = view(coco.subset(np.arange(16)), name)
    m.build()
    labels = torch.as_tensor(np.asarray(data.labels), dtype=torch.float32)
    m.begin_fit(len(data), labels, torch.Generator().manual_seed(0))
    m.net.train()
    rows = np.arange(12)
    images, captions = _batch(m, data, rows)
    terms = m.loss_terms(torch.as_tensor(rows), images, captions, labels)
    assert set(terms) == expected
    trainable = [q for q in m.net.parameters() if q.requires_grad]
    trainable += getattr(m, "proxies", None) is not None and [m.proxies] or []
    for key, term in terms.items():
        assert torch.isfinite(term), key
        assert _contributes(term, trainable) > 0, f"{name}: {key} gives no gradient"


@pytest.mark.parametrize("name", ["dcmh", "dcmh-e2e"])
def test_dcmh_terms_are_finite_and_contribute(name, coco):
    from bench.methods.dcmh.method import modality_terms

    m = make(name, seed=1)
    data = view(coco.subset(np.arange(16)), name)
    m.prepare(data)
    m.build()
    labels = torch.as_tensor(np.asarray(data.labels), dtype=torch.float32)
    rows = np.arange(8)
    own, other = torch.randn(16, BITS), torch.randn(16, BITS)
    codes = torch.sign(own + other)
    for mod in ("image", "text"):
        f = m.outputs(mod, m.inputs(data, mod, rows, True, torch.Generator().manual_seed(0)))
        own[rows] = f.detach()
        sim = (labels[rows] @ labels.t() > 0).float()
        terms = modality_terms(f, torch.as_tensor(rows), own, other, codes, sim, 1.0, 1.0)
        assert set(terms) == {"nll", "quantization", "balance"}
        params = [q for q in m.net.parameters() if q.requires_grad]
        for key, term in terms.items():
            assert torch.isfinite(term) and _contributes(term, params) > 0, (mod, key)


def test_dcmh_terms_follow_the_formulas():
    from bench.methods.dcmh.method import modality_terms

    torch.manual_seed(0)
    n, b, k = 6, 2, 4
    own, other = torch.randn(n, k), torch.randn(n, k)
    rows = torch.tensor([1, 4])
    f = torch.randn(b, k)
    own[rows] = f
    codes = torch.sign(torch.randn(n, k))
    sim = (torch.rand(b, n) > 0.5).float()
    got = modality_terms(f, rows, own, other, codes, sim, gamma=2.0, eta=3.0)
    theta = 0.5 * f @ other.t()
    nll = -(sim * theta - torch.log1p(torch.exp(theta))).sum() / (n * b)
    quant = 2.0 * ((codes[rows] - f) ** 2).sum() / (n * b)
    balance = 3.0 * (own.sum(0) ** 2).sum() / (n * b)  # the batch's rows hold f
    for key, want in (("nll", nll), ("quantization", quant), ("balance", balance)):
        assert torch.allclose(got[key], want, rtol=1e-5), key


# -- each method's own pieces --------------------------------------------------------------------

def test_dsph_code_table_threshold():
    from bench.methods.dsph.method import code_table_threshold, griesmer_distance

    # known optimal binary linear codes: Hamming [7,4,3], extended Hamming [8,4,4],
    # Reed-Muller [16,5,8] and [32,6,16], extended Golay [24,12,8]
    for n, k, d in ((7, 4, 3), (8, 4, 4), (16, 5, 8), (32, 6, 16), (24, 12, 8)):
        assert griesmer_distance(n, k) == d
    for bits in (16, 32, 64):  # 24 classes (MIRFLICKR, the default data): 5 message bits
        assert code_table_threshold(bits, 24) == 0.0
    assert code_table_threshold(16, 80) == pytest.approx(1 - 2 * 6 / 16)  # COCO: [16,7,6]


def test_dsph_proxy_terms():
    from bench.methods.dsph.method import irrelevant_pair_terms, proxy_terms

    proxies = torch.eye(3, 4)
    h = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    labels = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    pos, neg = proxy_terms(h, proxies, labels, threshold=0.0)
    assert float(pos) == 0 and float(neg) == 0  # on its own proxy, orthogonal to the others
    pos, neg = proxy_terms(h, proxies, labels[[1, 0]], threshold=-0.5)
    # negatives: cos 1 with the other sample's proxy (1 + 0.5), 0 with the third (0 + 0.5)
    assert float(pos) == pytest.approx(1.0) and float(neg) == pytest.approx((1.5 + 0.5) * 2 / 4)
    multi = torch.tensor([[1.0, 1, 0], [0, 0, 1], [1, 0, 1]])  # only row 0 is multi-label
    terms = irrelevant_pair_terms(h[[0, 1, 0]], h[[0, 1, 0]], multi, 0.0, 0.8)
    assert all(float(t) == 0 for t in terms.values())  # no multi-label pair without overlap


def test_dchmt_select_layer_and_margin():
    from bench.methods.dchmt.method import SelectHash, similarity_terms

    layer = SelectHash(8, bits=5, hidden=16)
    probs = layer(torch.randn(3, 8))
    assert probs.shape == (3, 5, 2) and torch.allclose(probs.sum(-1), torch.ones(3, 5))
    one_hot = torch.tensor([[[0.0, 1.0]] * 4, [[1.0, 0.0]] * 4]).reshape(2, 8)
    p = {"similarity": "euclidean", "vartheta": 0.75, "loss_type": "l2"}
    # dissimilar codes differing in every bit: distance sqrt(2·4) beyond the margin sqrt(6)
    pos, neg = similarity_terms(one_hot, one_hot, torch.eye(2), 4, p)
    assert float(pos) == 0 and float(neg) == 0
    pos, neg = similarity_terms(one_hot, one_hot[[0, 0]], torch.zeros(2, 2), 4, p)
    assert float(neg) == pytest.approx(6.0 / 4 * 2)  # two same-code dissimilar pairs: margin²


def test_mith_token_aggregation():
    from bench.methods.mith.method import aggregate_tokens

    tokens = torch.tensor([[[1.0, 0], [0, 1.0], [5.0, 5.0]]])  # (1, 3 tokens, 2 dims)
    scores = torch.tensor([[[2.0, -1.0, 0.5], [0.1, 0.2, 0.3], [9.0, 9.0, 9.0]]])  # 3 concepts
    excluded = torch.tensor([[False, False, True]])  # e.g. the end-of-text token
    out = aggregate_tokens(tokens, scores, top_k=2, excluded=excluded)
    # concept 0: tokens 0 (2.0, in its top 2) and none else -> token 0
    assert torch.allclose(out[0, 0], tokens[0, 0])
    # concept 1: token 0's score is negative, token 1 keeps concepts 1 and 2 -> token 1
    assert torch.allclose(out[0, 1], tokens[0, 1])
    # concept 2: tokens 0 (0.5) and 1 (0.3), softmax-weighted
    w = torch.softmax(torch.tensor([0.5, 0.3]), 0)
    assert torch.allclose(out[0, 2], w[0] * tokens[0, 0] + w[1] * tokens[0, 1])
    none = aggregate_tokens(tokens, -scores.abs(), top_k=2)
    assert torch.equal(none, torch.zeros_like(none))  # no positive score: a zero token


# -- selection on the validation split -----------------------------------------------------------

def test_selection_restores_the_best_validation_epoch(coco, tmp_path):
    data = view(coco.subset(np.arange(18)), "dsph")
    val = view(coco.subset(np.arange(18, 24)), "dsph", labels=False)
    m = make("dsph", seed=2, epochs=3, selection="validation")
    scores, seen = iter([0.1, 0.7, 0.4]), []

    def validate() -> float:
        seen.append(codes_of(m, val))
        return next(scores)

    m.fit(data, ctx(tmp_path, validate))
    assert m.best_epoch == 2 and m.selection_rule.startswith("best validation mAP")
    final = codes_of(m, val)
    assert not np.array_equal(seen[1]["image"][BITS], seen[2]["image"][BITS])
    assert np.array_equal(final["image"][BITS], seen[1]["image"][BITS])
    assert np.array_equal(final["text"][BITS], seen[1]["text"][BITS])


# -- end to end through bench run ----------------------------------------------------------------

def test_end_to_end_on_coco_mini(shared_data, tmp_path):
    from bench.cli import main

    root = shared_data / "coco-mini"
    if not (root / "annotations").is_dir():
        pytest.skip(f"{root} is absent")
    tiny = json.dumps(TINY)
    args = ["run", "--methods", ",".join(END_TO_END), "--bits", "16", "--dataset", "coco",
            "--data-root", str(root), "--preset", "smoke", "--results", str(tmp_path),
            "--no-ray", "--device", "cpu", "--set", "epochs=1", "--set", "batch_size=32",
            "--set", "eval_batch_size=64"]
    for name in END_TO_END:
        args += ["--set", f"{name}.clip_model={tiny}"]
    args += ["--set", "dcmh-e2e.hidden=64"]
    assert main(args) == 0
    for name in END_TO_END:
        records = list((tmp_path / "records" / name).rglob("*.json"))
        assert len(records) == 1, name
        rec = json.loads(records[0].read_text())
        assert rec["bits"] == [16] and rec["labels_at_encode"] is False
        assert rec["selection"].startswith("best validation mAP"), rec["selection"]
        assert rec["resolved_params"]["schedule"] == "reference", rec["resolved_params"]
        for d in ("i2t", "t2i"):
            assert 0.0 < rec["metrics"]["16"][d]["map_all"] <= 1.0
        assert (tmp_path / "work" / rec["key"] / f"{name}.pt").is_file()


def test_a_diverged_model_fails_instead_of_scoring_the_base_rate(coco, tmp_path):
    """DCMH at an absurd learning rate blows up: the fit raises (the trial is recorded as
    failed) rather than finishing with constant codes that score the label base rate."""
    m = make("dcmh", seed=0, epochs=3, lr_start=6.0, lr_end=6.0)
    with pytest.raises(FloatingPointError, match="diverged in epoch"):
        m.fit(view(coco.subset(np.arange(18)), "dcmh"), ctx(tmp_path))
