"""PromptHash: units, batch dependence, label leakage, loss terms, checkpoints, and a tiny
end-to-end run on COCO-MINI, all with a small randomly initialised open_clip model."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import TINY_CLIP

from bench import registry
from bench.plugins import PairedData

os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: A tiny open_clip CLIP (random init), passed as a config dict through ``clip_model``.
TINY = TINY_CLIP
CLASSES = ["dog", "cat", "plant_life", "car", "sky"]
WORDS = "a dog cat runs on the grass under blue sky near red car with small plant".split()


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def make_data(n: int = 12, seed: int = 0, labels: bool = True) -> PairedData:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(CLASSES))) < 0.4).astype(np.float32)
    y[np.arange(n), rng.integers(0, len(CLASSES), n)] = 1
    return PairedData(
        index=np.arange(1000 * seed, 1000 * seed + n),
        images=[rng.integers(0, 256, (36 + i % 5, 40, 3), dtype=np.uint8) for i in range(n)],
        captions=[" ".join(rng.choice(WORDS, 6)) for _ in range(n)],
        labels=y if labels else None, class_names=CLASSES,
    )


def method(name: str, seed: int = 0, **params):
    spec = registry.methods.get(name)
    return spec.load()((16, 32), {"clip_model": TINY, "eval_batch_size": 4, **params}, seed)


def built(name: str, seed: int = 0, **params):
    m = method(name, seed, **params)
    m.build()
    return m


# -- units -----------------------------------------------------------------------------------

def test_spec_module_is_light():
    code = ("import sys, bench.methods.prompthash as p; "
            "print(p.SPEC.labels_at_encode, p.SPEC_CLEAN.labels_at_encode, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]


def test_prompt_sentences():
    from bench.methods.prompthash.prompts import prompt_sentence

    row = np.array([1, 0, 1, 0, 0])
    assert prompt_sentence(row, CLASSES) == "This is an image containing dog, plant life."
    assert prompt_sentence(np.zeros(5), CLASSES) == "This is an image containing"
    assert prompt_sentence(None, None) == "This is an image containing"


def test_scramble_is_the_reference_reinterpretation():
    from bench.methods.prompthash.fusion import scramble, unscramble

    m, n, c = 2, 6, 4
    x = torch.arange(m * n * c, dtype=torch.float32).reshape(m, n, c)
    u = scramble(x)
    for mm in range(m):
        for t in range(n):
            for cc in range(c):
                flat = cc * n + t
                assert u[mm, t, cc] == x[mm, flat // c, flat % c]
    assert torch.equal(unscramble(u), x)


def test_grn_is_identity_at_init_and_affine_after():
    from bench.methods.prompthash.fusion import GRN

    g = GRN(8)
    x = torch.randn(5, 8)
    assert torch.allclose(g(x), x)
    with torch.no_grad():
        g.gamma.fill_(0.5)
    assert torch.allclose(g(x), 1.5 * x, atol=1e-5)  # N(x) = ‖x‖/(‖x‖+1e-6) ≈ 1


def test_bertadam_schedule_clipping_and_no_bias_correction():
    from bench.training.optim import BertAdam, warmup_cosine

    assert warmup_cosine(0.0) == 0.0 and math.isclose(warmup_cosine(0.025), 0.5)
    assert math.isclose(warmup_cosine(0.5), 0.5) and warmup_cosine(1.0) < 1e-12
    w = torch.nn.Parameter(torch.zeros(4))
    opt = BertAdam([w], lr=1.0, t_total=10, warmup=0.1, weight_decay=0.0)
    w.grad = torch.full((4,), 100.0)  # clipped to norm 1 per tensor
    opt.step()
    assert torch.equal(w.detach(), torch.zeros(4))  # step 0: lr·x/warmup = 0
    w.grad = torch.full((4,), 100.0)
    opt.step()  # m = 0.1(1-0.9^2)..., no bias correction: update = m/(sqrt(v)+eps)
    g = 0.5  # each component of the clipped gradient
    m = 0.1 * g * (1 + 0.9)
    v = 0.02 * g * g * (1 + 0.98)
    expected = -(1.0 * warmup_cosine(0.1, 0.1)) * m / (math.sqrt(v) + 1e-6)
    assert torch.allclose(w.detach(), torch.full((4,), expected), rtol=1e-4)


def test_schedule_resolution():
    from bench.methods.prompthash.method import resolve_schedule

    assert resolve_schedule({"schedule": "auto"}, "coco")["schedule"] == "reference"
    assert resolve_schedule({"schedule": "auto"}, "coco")["epochs"] == 100
    assert resolve_schedule({"schedule": "auto"}, "synthetic-features")["schedule"] == "quick"
    assert resolve_schedule({"schedule": "reference", "epochs": 3}, "x")["epochs"] == 3
    with pytest.raises(ValueError):
        resolve_schedule({"schedule": "fast"}, "coco")
    # batch fusion encodes in batches of the training size; per-sample fusion keeps 128
    quick = {"schedule": "quick"}
    assert resolve_schedule({**quick, "fusion": "batch"}, "x")["eval_batch_size"] == 64
    assert resolve_schedule({**quick, "fusion": "sample"}, "x")["eval_batch_size"] == 128
    assert resolve_schedule({**quick, "fusion": "batch", "batch_size": 16},
                            "x")["eval_batch_size"] == 16
    assert resolve_schedule({**quick, "fusion": "batch", "eval_batch_size": 32},
                            "x")["eval_batch_size"] == 32


def test_architecture_dims_come_from_the_backbone():
    m = built("prompthash")
    net = m.net
    assert net.clip.width == 32 and net.clip.embed_dim == 48 and net.clip.context_length == 24
    assert net.prompt_learner.ctx.shape == (24, 32)
    assert net.hash.fuse.inproj.in_features == 48
    assert net.hash.fuse.transformer.layers[0].self_attn.embed_dim == 96
    assert set(net.hash.encoders) == {"16", "32", "256"} and set(net.hash.decoders) == {"16", "32"}
    trainable = {n for n, q in net.clip.clip.named_parameters() if q.requires_grad}
    assert trainable and all("resblocks" in n for n in trainable)
    assert all(q.requires_grad for q in net.clip.prompt_transformer.parameters())
    # faithful: prompt transformer is random (GELU), clean: a copy of the last text blocks
    text_last = net.clip.clip.transformer.resblocks[-1]
    assert not torch.equal(net.clip.prompt_transformer.resblocks[-1].mlp.c_fc.weight,
                           text_last.mlp.c_fc.weight)
    c = built("prompthash-clean").net
    assert torch.equal(c.clip.prompt_transformer.resblocks[-1].mlp.c_fc.weight,
                       c.clip.clip.transformer.resblocks[-1].mlp.c_fc.weight)


# -- the reference's quirks and the clean variant ----------------------------------------------

def _rows(out: dict, row: int) -> np.ndarray:
    return np.concatenate([out[m][b][row] for m in ("image", "text") for b in (16, 32)])


@pytest.mark.parametrize("name,depends", [("prompthash", True), ("prompthash-clean", False)])
def test_batch_dependence(name, depends):
    m = built(name)
    data = make_data(8)
    a = m.hash_outputs(data.subset(np.array([0, 1, 2, 3])))
    b = m.hash_outputs(data.subset(np.array([0, 5, 6, 7])))  # same item 0, other batch mates
    c = m.hash_outputs(data.subset(np.array([1, 2, 0, 3])))  # same mates, other order
    diff_mates = np.abs(_rows(a, 0) - _rows(b, 0)).max()
    diff_order = np.abs(_rows(a, 0) - _rows(c, 2)).max()
    if depends:
        assert diff_mates > 1e-4 and diff_order > 1e-4
    else:
        assert diff_mates < 1e-5 and diff_order < 1e-5


def test_clean_codes_ignore_labels_at_encoding():
    data = make_data(8)
    shuffled = data.subset(np.arange(8))
    shuffled.labels = data.labels[np.random.default_rng(3).permutation(8)]
    clean = built("prompthash-clean")
    codes = clean.encode_pairs(data)
    for other in (shuffled, data.without_labels()):
        again = clean.encode_pairs(other)
        for mod in ("image", "text"):
            for b in (16, 32):
                assert np.array_equal(codes[mod][b], again[mod][b])
    # the faithful variant reads the labels (its outputs move when they are shuffled) ...
    faithful = built("prompthash")
    a, b = faithful.hash_outputs(data), faithful.hash_outputs(shuffled)
    assert max(np.abs(a[m][16] - b[m][16]).max() for m in ("image", "text")) > 1e-4
    # ... and refuses to encode without them
    with pytest.raises(ValueError, match="labels"):
        faithful.encode_pairs(data.without_labels())


def test_every_loss_term_is_finite_and_contributes():
    from bench.methods.prompthash.losses import CodeBuffers, loss_terms, reference_weights

    m = built("prompthash")
    net = m.net
    net.train()
    data = make_data(12)
    rows = np.arange(8)
    images = m.images.batch(data.index[rows], [data.images[i] for i in rows], train=True)
    out = net(images, m._captions(data)[rows], m._prompt_tokens(data, rows, "labels"))
    buffers = CodeBuffers(12, [16, 32, 256], "cpu")
    rows_t = torch.as_tensor(rows)
    buffers.write(rows_t, out["hash"])
    labels = torch.as_tensor(data.labels)
    terms = loss_terms(out, rows_t, labels, labels[rows_t], buffers, (16, 32), 256,
                       reference_weights("coco"), 0.07, 0.07)
    expected = {f"{t}_{k}" for t in ("intra_i", "intra_t", "inter", "quan")
                for k in (16, 32, 256)}
    expected |= {"global", "local"} | {f"recon_{m}_{k}" for m in "it" for k in (16, 32)}
    assert set(terms) == expected
    params = [q for q in net.parameters() if q.requires_grad]
    for name, term in terms.items():
        assert torch.isfinite(term), name
        grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
        total = sum(float(g.abs().sum()) for g in grads if g is not None)
        assert total > 0, f"loss term {name} gives no gradient"
    # the context gets gradients (the faithful run just never applies them)
    assert net.prompt_learner.ctx.requires_grad


@pytest.mark.parametrize("kind", ["trainable", "full"])
def test_checkpoint_round_trip(tmp_path, kind):
    a = built("prompthash-clean", seed=5, checkpoint=kind)
    with torch.no_grad():  # move trainable weights away from their init
        for q in a.net.parameters():
            if q.requires_grad:
                q.add_(0.01 * torch.randn_like(q))
    path = a.save_checkpoint(tmp_path / "ph.pt")
    b = method("prompthash-clean", seed=9, checkpoint=kind)
    b.load_checkpoint(path)
    data = make_data(6)
    ca, cb = a.hash_outputs(data), b.hash_outputs(data)
    for mod in ("image", "text"):
        for bits in (16, 32):
            assert np.array_equal(ca[mod][bits], cb[mod][bits])


def test_load_checkpoint_refuses_other_variant_or_parameters(tmp_path):
    path = built("prompthash-clean", seed=5).save_checkpoint(tmp_path / "ph.pt")
    with pytest.raises(ValueError, match="method 'prompthash-clean'.*fusion='sample'"):
        method("prompthash", seed=5).load_checkpoint(path)
    with pytest.raises(ValueError, match=r"lr=0\.001 \(this instance: 0\.002\)"):
        method("prompthash-clean", seed=5, lr=2e-3).load_checkpoint(path)
    with pytest.raises(ValueError, match="bits"):
        registry.methods.get("prompthash-clean").load()(
            (16,), {"clip_model": TINY, "eval_batch_size": 4}, 5).load_checkpoint(path)
    # runtime settings may differ
    method("prompthash-clean", seed=5, amp="bf16", eval_batch_size=2).load_checkpoint(path)


def test_selection_restores_the_best_validation_epoch(tmp_path):
    from bench.plugins import FitContext

    data, val = make_data(12), make_data(6, seed=1)
    m = method("prompthash", seed=3, epochs=3, batch_size=4)
    scores, seen = iter([0.2, 0.9, 0.5]), []

    def validate() -> float:  # records the model's outputs at each validation
        seen.append(m.hash_outputs(val))
        return next(scores)

    ctx = FitContext(validation=val, seed=3, device="cpu", workdir=tmp_path, dataset="coco",
                     validate=validate, log=lambda msg: None)
    m.fit(data, ctx)
    assert m.best_epoch == 2 and "epoch 2 of 3" in m.selection_rule
    final = m.hash_outputs(val)
    for mod in ("image", "text"):
        assert np.array_equal(final[mod][16], seen[1][mod][16])  # the epoch-2 weights ...
        assert not np.array_equal(final[mod][16], seen[2][mod][16])  # ... not the last ones
    again = method("prompthash", seed=3, epochs=3, batch_size=4)  # the checkpoint holds them
    again.load_checkpoint(tmp_path / "prompthash.pt")
    assert np.array_equal(again.hash_outputs(val)["image"][16], final["image"][16])


def test_fit_is_deterministic_and_reports(tmp_path):
    from bench.plugins import FitContext

    data, codes, reports = make_data(12), [], []
    for _ in range(2):
        m = method("prompthash", seed=3, epochs=2, batch_size=4, selection="final")
        ctx = FitContext(validation=None, seed=3, device="cpu", workdir=tmp_path,
                         dataset="coco", report=lambda epoch, **kw: reports.append(kw))
        m.fit(data, ctx)
        codes.append(m.hash_outputs(data))
    for mod in ("image", "text"):
        assert np.array_equal(codes[0][mod][16], codes[1][mod][16])
    assert len(reports) == 4 and all(np.isfinite(r["loss"]) for r in reports)
    assert (tmp_path / "prompthash.pt").is_file()


# -- end to end ------------------------------------------------------------------------------

def test_end_to_end_on_coco_mini(shared_data, tmp_path):
    from bench.cli import main

    root = shared_data / "coco-mini"
    if not (root / "annotations").is_dir():
        pytest.skip(f"{root} is absent")
    tiny = json.dumps(TINY)
    code = main(["run", "--methods", "prompthash,prompthash-clean", "--bits", "16,32,64",
                 "--dataset", "coco", "--data-root", str(root), "--preset", "smoke",
                 "--set", f"clip_model={tiny}", "--set", "epochs=2", "--set", "batch_size=32",
                 "--set", "eval_batch_size=32", "--results", str(tmp_path), "--no-ray",
                 "--device", "cpu"])
    assert code == 0
    for name in ("prompthash", "prompthash-clean"):
        records = list((tmp_path / "records" / name).rglob("*.json"))
        assert len(records) == 1, name
        rec = json.loads(records[0].read_text())
        assert rec["bits"] == [16, 32, 64]
        assert rec["labels_at_encode"] is (name == "prompthash")
        assert rec["selection"].startswith("best validation mAP"), rec["selection"]
        # schedule="auto" and max_train=None resolved on real data; explicit epochs kept
        resolved = rec["resolved_params"]
        assert (resolved["schedule"], resolved["max_train"], resolved["epochs"]) == (
            "reference", None, 2), resolved
        assert rec["params"]["schedule"] == "auto"
        for b in ("16", "32", "64"):
            for d in ("i2t", "t2i"):
                assert 0.0 < rec["metrics"][b][d]["map_all"] <= 1.0
        ckpt = tmp_path / "work" / rec["key"] / "prompthash.pt"
        assert ckpt.is_file()


@pytest.mark.parametrize("name", ["prompthash", "prompthash-clean"])
def test_parameter_rules(name):
    from bench import registry
    from bench.errors import BenchError
    from bench.params import method_params

    spec = registry.methods.get(name)
    ok = method_params(spec, {"schedule": "reference", "fusion": "sample", "epochs": 3})
    assert (ok["schedule"], ok["fusion"], ok["epochs"]) == ("reference", "sample", 3)
    for bad in ({"schedule": "fast"}, {"fusion": "token"}, {"mamba_backend": "triton"},
                {"epochs": 0}, {"checkpoint": "some"}):
        with pytest.raises(BenchError):
            method_params(spec, bad)
