"""Dataset layouts on small files the tests write: MATLAB v5 (scipy) and v7.3 (h5py), CRLF text,
COCO JSON, features files; and every bad-file case gives a one-line BenchError naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io as sio

from bench import registry
from bench.cli import main
from bench.errors import BenchError
from bench.io.matlab import load_mat, mat_variables, to_string_rows, write_mat73
from bench.plugins import Preset
from bench.runner.data import check_requirements
from bench.splits import make_split, read_split_files, write_split_files

N, C, V = 60, 24, 30


def _labels(n: int = N, c: int = C, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lab = (rng.random((n, c)) < 0.15).astype(np.uint8)
    lab[np.arange(n), rng.integers(0, c, n)] = 1  # no empty rows
    return lab


def _bow(n: int = N, v: int = V, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, v)) < 0.2).astype(np.uint8)


def _load(name: str, root: Path, tmp: Path, **opts):
    """Load without the per-process cache of ``load_dataset`` (files change within a test)."""
    return registry.datasets.get(name).load()(root, tmp / "cache", opts).load()


def _error(name: str, root: Path, tmp: Path, **opts) -> str:
    with pytest.raises(BenchError) as exc:
        _load(name, root, tmp, **opts)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# -- MATLAB readers -------------------------------------------------------------------------


def test_v5_and_v73_read_the_same(tmp_path):
    lab, bow = _labels(), _bow()
    names = [f"im{i}.jpg" for i in range(N)]
    sio.savemat(tmp_path / "a.mat", {"LAll": lab, "YAll": bow,
                                     "names": np.array(names, dtype=object).reshape(-1, 1)})
    write_mat73(tmp_path / "b.mat", {"LAll": lab, "YAll": bow, "names": names})
    a, b = load_mat(tmp_path / "a.mat"), load_mat(tmp_path / "b.mat")
    for key in ("LAll", "YAll"):
        assert a[key].shape == b[key].shape == (N, lab.shape[1] if key == "LAll" else V)
        assert np.array_equal(a[key], b[key])
    assert to_string_rows(a["names"]) == to_string_rows(b["names"]) == [[n] for n in names]
    assert mat_variables(tmp_path / "b.mat")["LAll"] == (N, C)


def test_dcmh_mat_v5_and_v73_load_identically(tmp_path):
    lab, bow = _labels(), _bow()
    feats = np.random.default_rng(2).normal(size=(N, 16)).astype(np.float32)
    v5, v73 = tmp_path / "v5", tmp_path / "v73"
    v5.mkdir()
    v73.mkdir()
    sio.savemat(v5 / "mir-lall.mat", {"LAll": lab})
    sio.savemat(v5 / "mir-yall.mat", {"YAll": bow})
    sio.savemat(v5 / "mir-xall.mat", {"XAll": feats})
    write_mat73(v73 / "mir-lall.mat", {"LAll": lab})
    write_mat73(v73 / "mir-yall.mat", {"YAll": bow})
    write_mat73(v73 / "mir-xall.mat", {"XAll": feats})
    a = _load("mirflickr25k", v5, tmp_path)
    b = _load("mirflickr25k", v73, tmp_path)
    assert a.info["layout"] == b.info["layout"] == "dcmh-mat"
    assert a.provides() == b.provides() == {"labels", "text_features", "image_features"}
    assert np.array_equal(a.items.labels, b.items.labels)
    assert np.array_equal(a.items.text_features, b.items.text_features)
    assert np.allclose(a.items.image_features, feats)
    assert a.class_names[0] == "animals"
    check_requirements(a, "lsh", ("image_features", "text_features"))
    with pytest.raises(BenchError, match="lacks images, captions"):
        check_requirements(a, "clip-method", ("images", "captions"))


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_dcmh_iall_pixels_become_image_files(tmp_path, version):
    from PIL import Image

    n = 5
    pixels = np.random.default_rng(3).integers(0, 255, size=(8, 6, 3, n), dtype=np.uint8)
    (tmp_path / "d").mkdir()
    if version == "v5":
        sio.savemat(tmp_path / "d" / "lall.mat", {"LAll": _labels(n)})
        sio.savemat(tmp_path / "d" / "iall.mat", {"IAll": pixels})
    else:
        write_mat73(tmp_path / "d" / "lall.mat", {"LAll": _labels(n)})
        write_mat73(tmp_path / "d" / "iall.mat", {"IAll": pixels})
    ds = _load("mirflickr25k", tmp_path / "d", tmp_path)
    assert "images" in ds.provides() and len(ds.items.images) == n
    for i in (0, n - 1):
        path = Path(ds.items.images[i])
        assert path.is_absolute() and path.is_file()
        assert np.array_equal(np.asarray(Image.open(path)), pixels[:, :, :, i])
    skipped = _load("mirflickr25k", tmp_path / "d", tmp_path, images=False)
    assert "images" not in skipped.provides()


def test_truncated_mat_files_are_one_line_errors(tmp_path):
    sio.savemat(tmp_path / "full.mat", {"LAll": _labels(2000)})
    write_mat73(tmp_path / "full73.mat", {"LAll": _labels(2000)})
    for name in ("full.mat", "full73.mat"):
        data = (tmp_path / name).read_bytes()
        folder = tmp_path / f"cut-{name}"
        folder.mkdir()
        (folder / "x-lall.mat").write_bytes(data[: len(data) // 2])
        msg = _error("mirflickr25k", folder, tmp_path, labels_file="x-lall.mat")
        assert "x-lall.mat" in msg and ("truncated" in msg or "corrupt" in msg)


def test_dcmh_wrong_key_missing_file_and_row_mismatch(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    sio.savemat(d / "labels.mat", {"labels": _labels()})
    assert "holds LAll" in _error("mirflickr25k", d, tmp_path, layout="dcmh-mat")
    msg = _error("mirflickr25k", d, tmp_path, labels_file="labels.mat")
    assert "labels.mat" in msg and "no variable LAll" in msg and "it has: labels" in msg
    msg = _error("mirflickr25k", d, tmp_path, labels_file="nope.mat")
    assert "nope.mat" in msg and "not found" in msg
    sio.savemat(d / "lall.mat", {"LAll": _labels()})
    sio.savemat(d / "yall.mat", {"YAll": _bow(N - 3)})
    msg = _error("mirflickr25k", d, tmp_path, labels_file="lall.mat")
    assert "do not agree" in msg and "lall.mat:LAll has 60" in msg and "yall.mat:YAll has 57" in msg


def test_labels_stored_classes_by_pairs_are_transposed(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    write_mat73(d / "lall.mat", {"LAll": _labels().T})  # MATLAB shape 24 × 60
    write_mat73(d / "yall.mat", {"YAll": _bow().T})
    ds = _load("mirflickr25k", d, tmp_path)
    assert np.array_equal(ds.items.labels, _labels())
    assert np.array_equal(ds.items.text_features, _bow())


def test_wrong_number_of_classes_names_the_variant(tmp_path):
    d = tmp_path / "nus"
    d.mkdir()
    sio.savemat(d / "nus-lall.mat", {"LAll": _labels(c=21)})
    sio.savemat(d / "nus-yall.mat", {"YAll": _bow()})
    assert _load("nus-wide-21", d, tmp_path).items.labels.shape == (N, 21)
    msg = _error("nus-wide-tc10", d, tmp_path)
    assert "21 label columns" in msg and "nus-wide-tc10 has 10 classes" in msg


# -- text layout ----------------------------------------------------------------------------


def _write_text_layout(root: Path, n: int = N, eol: str = "\r\n", images: bool = True) -> None:
    root.mkdir(parents=True)
    vocab = [f"tag{j}" for j in range(V)]
    bow = _bow(n)
    lab = _labels(n)
    tags = [",".join(vocab[j] for j in np.flatnonzero(row)) for row in bow]
    (root / "all_labels.txt").write_bytes(
        eol.join(" ".join(map(str, r)) for r in lab).encode() + eol.encode())
    (root / "all_tags.txt").write_bytes(eol.join(tags).encode() + eol.encode())
    (root / "all_imgs.txt").write_bytes(
        eol.join(f"mirflickr/im{i + 1}.jpg" for i in range(n)).encode() + eol.encode())
    (root / "TagList.txt").write_bytes(eol.join(vocab).encode() + eol.encode())
    if images:
        (root / "mirflickr").mkdir()
        for i in range(n):
            (root / "mirflickr" / f"im{i + 1}.jpg").write_bytes(b"jpg")


def test_text_layout_with_crlf_and_images(tmp_path):
    _write_text_layout(tmp_path / "t")
    ds = _load("mirflickr25k", tmp_path / "t", tmp_path)
    assert ds.info["layout"] == "text"
    assert ds.provides() == {"labels", "text_features", "captions", "images"}
    assert np.array_equal(ds.items.labels, _labels())
    assert np.array_equal(ds.items.text_features, _bow())
    assert not any("\r" in c for c in ds.items.captions)
    assert ds.items.images[3] == str((tmp_path / "t" / "mirflickr" / "im4.jpg").resolve())


def test_text_layout_bad_files(tmp_path):
    root = tmp_path / "t"
    _write_text_layout(root, images=False)
    lab_lines = (root / "all_labels.txt").read_bytes().splitlines()
    # a truncated labels file: the last line is cut short
    (root / "all_labels.txt").write_bytes(b"\r\n".join(lab_lines[:-1] + [lab_lines[-1][:7]]))
    msg = _error("mirflickr25k", root, tmp_path)
    assert "all_labels.txt line 60" in msg and "truncated" in msg
    # fewer label rows than tag rows
    (root / "all_labels.txt").write_bytes(b"\r\n".join(lab_lines[:-2]) + b"\r\n")
    msg = _error("mirflickr25k", root, tmp_path)
    assert "all_labels.txt has 58" in msg and "all_tags.txt has 60" in msg
    # labels that are not 0/1
    (root / "all_labels.txt").write_bytes(b"\r\n".join(lab_lines).replace(b"1 ", b"2 ", 1))
    assert "multi-hot 0/1, found values 2" in _error("mirflickr25k", root, tmp_path)
    # an empty label row is refused, or dropped on request
    rows = list(lab_lines)
    rows[5] = b" ".join([b"0"] * C)
    (root / "all_labels.txt").write_bytes(b"\r\n".join(rows))
    assert "1 of 60 pairs have no label" in _error("mirflickr25k", root, tmp_path)
    ds = _load("mirflickr25k", root, tmp_path, drop_unlabeled=True)
    assert len(ds.items) == N - 1 and ds.items.labels.sum(1).min() >= 1
    # images listed but some missing
    (root / "mirflickr").mkdir()
    (root / "mirflickr" / "im1.jpg").write_bytes(b"x")
    (root / "all_labels.txt").write_bytes(b"\r\n".join(lab_lines))
    msg = _error("mirflickr25k", root, tmp_path)
    assert "59 of 60 images listed in" in msg and "all_imgs.txt" in msg
    assert "images" not in _load("mirflickr25k", root, tmp_path, images=False).provides()
    # an unknown option
    assert "has no option 'colour'" in _error("mirflickr25k", root, tmp_path, colour=1)


# -- index.mat layout (DCHMT / PromptHash) --------------------------------------------------


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_index_mat_layout(tmp_path, version):
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    n, lab = 30, _labels(30, 80)
    names = [f"/abs/elsewhere/COCO_{i:06d}.jpg" for i in range(n)]
    for nm in names:
        (root / "images" / Path(nm).name).write_bytes(b"x")
    caps = [f"a photo number {i} of a cat" for i in range(n)]
    if version == "v5":
        cell = np.empty((n, 2), dtype=object)
        for i in range(n):
            cell[i, 0], cell[i, 1] = caps[i], caps[i].upper()
        sio.savemat(root / "caption.mat", {"caption": cell})
        sio.savemat(root / "index.mat", {"index": np.array(names, dtype=object).reshape(-1, 1)})
        sio.savemat(root / "label.mat", {"category": lab})
    else:
        write_mat73(root / "caption.mat", {"caption": caps})
        write_mat73(root / "index.mat", {"index": names})
        write_mat73(root / "label.mat", {"category": lab})
    ds = _load("coco", root, tmp_path, caption="first")
    assert ds.info["layout"] == "index-mat"
    assert ds.provides() == {"labels", "captions", "images"}
    assert ds.items.captions[4] == caps[4]
    if version == "v5":
        assert ds.items.captions[4].candidates == (caps[4], caps[4].upper())
    assert ds.items.images[2] == str((root / "images" / "COCO_000002.jpg").resolve())
    assert np.array_equal(ds.items.labels, lab)
    with_bow = _load("coco", root, tmp_path, bow=5)
    assert with_bow.items.text_features.shape == (n, 5)


def test_index_mat_wrong_key(tmp_path):
    root = tmp_path / "x"
    root.mkdir()
    sio.savemat(root / "label.mat", {"targets": _labels()})
    msg = _error("mirflickr25k", root, tmp_path)
    assert "label.mat" in msg and "category / LAll / labels / label" in msg and "targets" in msg


# -- COCO JSON -----------------------------------------------------------------------------


def _write_coco(root: Path, n: int = 12) -> None:
    (root / "annotations").mkdir(parents=True)
    (root / "val2014").mkdir()
    cats = [{"id": i, "name": f"cat{i}"} for i in range(80, 0, -1)]
    images = [{"id": 100 + i, "file_name": f"COCO_val2014_{100 + i:012d}.jpg"} for i in range(n)]
    for im in images:
        (root / "val2014" / im["file_name"]).write_bytes(b"x")
    caps = [{"id": 1000 + 10 * i + k, "image_id": 100 + i, "caption": f"image {i} caption {k}"}
            for i in range(n) for k in range(3)]
    inst = [{"id": 5000 + i, "image_id": 100 + i, "category_id": (1, 2, 5)[i % 3]}
            for i in range(n - 2)]  # the last two images have no labels
    (root / "annotations" / "captions_val2014.json").write_text(
        json.dumps({"images": images, "annotations": caps}))
    (root / "annotations" / "instances_val2014.json").write_text(
        json.dumps({"images": images, "annotations": inst, "categories": cats}))


def test_coco_json_layout(tmp_path):
    _write_coco(tmp_path / "c")
    ds = _load("coco", tmp_path / "c", tmp_path, caption="first")
    again = _load("coco", tmp_path / "c", tmp_path / "other", caption="random", caption_seed=1)
    assert len(ds.items) == 10 and ds.info["dropped_unlabeled"] == 2
    assert ds.class_names[:3] == ["cat1", "cat2", "cat3"] and len(ds.class_names) == 80
    assert [np.flatnonzero(r).tolist() for r in ds.items.labels[:3]] == [[0], [1], [4]]
    assert ds.items.captions[1] == "image 1 caption 0"
    assert len(ds.items.captions[1].candidates) == 3
    assert all(str(c).startswith(f"image {i} ") for i, c in enumerate(again.items.captions))
    assert Path(ds.items.images[0]).name == "COCO_val2014_000000000100.jpg"


def test_coco_truncated_and_missing_json(tmp_path):
    _write_coco(tmp_path / "c")
    path = tmp_path / "c" / "annotations" / "instances_val2014.json"
    path.write_bytes(path.read_bytes()[:200])
    msg = _error("coco", tmp_path / "c", tmp_path)
    assert "instances_val2014.json" in msg and "not valid JSON" in msg
    path.unlink()
    msg = _error("coco", tmp_path / "c", tmp_path)
    assert "instances_val2014.json not found" in msg


# -- split-mat, features, pascal ----------------------------------------------------------


def test_old_v5_wiki_layout_with_class_numbers(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "w"
    root.mkdir()
    sio.savemat(root / "raw_features.mat", {
        "I_tr": rng.random((40, 12)), "I_te": rng.random((15, 12)),
        "T_tr": rng.random((40, 10)), "T_te": rng.random((15, 10)),
    })
    for part, n in (("trainset", 40), ("testset", 15)):
        lines = [f"t{part}{i}\timg{part}{i}\t{1 + (i % 10)}" for i in range(n)]
        (root / f"{part}_txt_img_cat.list").write_text("\r\n".join(lines) + "\r\n")
    ds = _load("wiki", root, tmp_path)
    assert len(ds.items) == 55 and ds.items.labels.shape == (55, 10)
    assert ds.items.labels[40 + 3].argmax() == 3
    assert len(ds.fixed_split["query"]) == 15 and ds.fixed_split["query"][0] == 40
    split = make_split(55, Preset("c", query=15, validation=5, fixed=True), ds.fixed_split)
    assert split.sizes() == {"query": 15, "retrieval": 40, "validation": 5, "train_pool": 35}
    sio.savemat(root / "raw_features.mat", {
        "I_tr": rng.random((39, 12)), "I_te": rng.random((15, 12)),
        "T_tr": rng.random((40, 10)), "T_te": rng.random((15, 10)),
    })
    msg = _error("wiki", root, tmp_path)
    assert "trainset_txt_img_cat.list has 40" in msg and "raw_features.mat:I_tr has 39" in msg


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_generic_features_file(tmp_path, suffix):
    rng = np.random.default_rng(0)
    arrays = {"image_features": rng.random((300, 8)).astype(np.float32),
              "text_features": rng.random((300, 6)).astype(np.float32),
              "labels": rng.integers(0, 4, 300),
              "names": np.array([f"n{i}" for i in range(300)]),
              "query_index": np.arange(10), "retrieval_index": np.arange(10, 300)}
    path = tmp_path / f"feats{suffix}"
    if suffix == ".npz":
        np.savez(path, **arrays)
    else:
        with h5py.File(path, "w") as f:
            for k, v in arrays.items():
                f[k] = v.astype("S") if v.dtype.kind == "U" else v
    ds = _load("features", path, tmp_path)
    assert ds.items.labels.shape == (300, 4) and ds.info["names"][7] == "n7"
    assert np.allclose(ds.items.image_features, arrays["image_features"])
    split = make_split(300, registry_preset("features", "fixed"), ds.fixed_split)
    assert split.sizes()["query"] == 10
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / f"feats{suffix}").write_bytes(path.read_bytes()[:300])
    msg = _error("features", cut / f"feats{suffix}", tmp_path)
    assert f"feats{suffix}" in msg and "truncated" in msg


def registry_preset(dataset: str, name: str) -> Preset:
    return registry.datasets.get(dataset).preset(name)


def test_pascal_release_folders(tmp_path):
    root = tmp_path / "pascal"
    classes = [f"class{c:02d}" for c in range(20)]
    for c in classes:
        (root / "dataset" / c).mkdir(parents=True)
        (root / "sentence" / c).mkdir(parents=True)
        for i in range(3):
            (root / "dataset" / c / f"{c}_{i}.jpg").write_bytes(b"x")
            (root / "sentence" / c / f"{c}_{i}.txt").write_text(
                "\n".join(f"a {c} sentence {k}" for k in range(5)) + "\n")
    ds = _load("pascal-sentence", root, tmp_path, caption="concat")
    assert ds.class_names == classes and len(ds.items) == 60
    assert ds.provides() == {"labels", "images", "captions"}
    assert len(ds.items.captions[0].candidates) == 5
    assert ds.items.captions[0].count("sentence") == 5
    s = make_split(60, registry_preset("pascal-sentence", "standard").__class__(
        "p", query=20, validation=5, query_per_class=1), labels=ds.items.labels)
    assert (ds.items.labels[s.query].sum(0) == 1).all()
    (root / "sentence" / classes[3] / f"{classes[3]}_1.txt").unlink()
    assert f"{classes[3]}_1.txt not found" in _error("pascal-sentence", root, tmp_path)


# -- presets, split files, CLI --------------------------------------------------------------


def test_class_balanced_presets():
    lab = _labels(3000, 24, seed=4)
    p = Preset("djsrh", query=2000, validation=100, train_pool=500, query_per_class=80,
               query_first_class=160, seed=1)
    s = make_split(3000, p, labels=lab)
    assert len(s.query) == 160 + 23 * 80
    assert (lab[s.query].sum(0) >= 80).all() and lab[s.query, 0].sum() >= 160
    assert make_split(3000, p, labels=lab).checksum() == s.checksum()
    t = make_split(3000, Preset("b", query=240, validation=100, query_per_class=10,
                                train_per_class=20), labels=lab)
    assert len(t.train_pool) == 24 * 20 and len(t.query) == 240
    with pytest.raises(BenchError, match="needs the dataset's labels"):
        make_split(3000, p)
    with pytest.raises(BenchError, match="fewer than the 2000 query items"):
        make_split(3000, Preset("x", query=1, validation=1, query_per_class=2000), labels=lab)
    assert "query_per_class" not in Preset("plain", query=1, validation=1).as_dict()


def test_split_files_round_trip_and_tamper(tmp_path):
    s = make_split(500, Preset("t", query=50, validation=20, train_pool=100, seed=2))
    manifest = write_split_files(s, tmp_path / "split", {"dataset": "x"})
    meta = json.loads(manifest.read_text())
    assert meta["checksum"] == s.checksum() and meta["dataset"] == "x"
    back = read_split_files(tmp_path / "split")
    assert back.checksum() == s.checksum()
    q = tmp_path / "split" / "query.txt"
    q.write_text(q.read_text().replace("\n", "\n", 1)[:-3])
    with pytest.raises(BenchError, match="query.txt: SHA-256 differs"):
        read_split_files(tmp_path / "split")


def test_datasets_check_cli(tmp_path, capsys):
    _write_text_layout(tmp_path / "t", images=False)
    assert main(["datasets", "check", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    assert "mirflickr25k (auto-detected)" in out and "layout text" in out
    assert "pairs:    60" in out and "classes:  24" in out and "missing:  image_features, images" \
        in out
    (tmp_path / "empty").mkdir()
    assert main(["datasets", "check", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench: error:") and err.count("\n") == 1 and "no known" in err
    assert main(["datasets", "check", str(tmp_path / "t"), "--dataset", "wiki"]) == 2
    assert "no wiki layout found" in capsys.readouterr().err
