"""The base class of the real-dataset plugins: pick the layout (auto-detected or the ``layout``
option), read it, check it and hand the harness a :class:`bench.plugins.LoadedDataset`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from bench.errors import BenchError
from bench.io.context import ReadContext
from bench.io.layouts import (
    COMMON_OPTIONS,
    LAYOUTS,
    _feature_candidates,
    _mat_files,
    detect_layouts,
    layout_options,
    load_table,
    scan_mat,
)
from bench.io.matlab import mat_variables
from bench.io.pairs import Options, finalize
from bench.plugins import DatasetPlugin, LoadedDataset


def describe_layouts(names: Sequence[str]) -> str:
    return "; ".join(f"{n} ({LAYOUTS[n].files})" for n in names)


def raise_unreadable(root: Path, layouts: Sequence[str]) -> None:
    """When no layout is detected in ``root``, an unreadable data file there is the likelier
    problem: raise its read error ("cannot read it as a MATLAB file ..."), if any."""
    for path in _mat_files(root):
        if scan_mat(path) is None:
            mat_variables(path)
    if "features" in layouts:
        for path in _feature_candidates(root):
            if path.suffix.lower() != ".mat":
                load_table(path)


class RealDataset(DatasetPlugin):
    """A dataset read from the user's folder (``--data-root``) in one of ``layouts``."""

    layouts: ClassVar[tuple[str, ...]] = ()
    n_classes: ClassVar[int | None] = None
    default_class_names: ClassVar[tuple[str, ...] | None] = None
    standard_pairs: ClassVar[tuple[int, ...]] = ()
    text_kind: ClassVar[str] = "tags"
    drop_unlabeled_default: ClassVar[bool] = False

    def choose_layout(self, root: Path, opts: Options) -> str:
        forced = opts.text("layout")
        if forced:
            if forced not in self.layouts:
                raise BenchError(f"dataset {self.spec.name!r} has no layout {forced!r} "
                                 f"(layouts: {', '.join(self.layouts)})")
            return forced
        found = detect_layouts(root, self.layouts)
        specific = set(opts.values) - set(COMMON_OPTIONS)
        if specific and not any(specific <= set(LAYOUTS[n].options) for n in found):
            # a file option names the layout when detection cannot (e.g. an unusual key)
            fitting = [n for n in self.layouts if specific <= set(LAYOUTS[n].options)]
            txt = any(str(opts.values[k]).lower().endswith(".txt") for k in specific)
            fitting.sort(key=lambda n: n != "text" if txt else n == "text")
            found = fitting[:1] or found
        if not found:
            raise_unreadable(root, self.layouts)
            raise BenchError(f"{root}: no {self.spec.name} layout found; expected one of: "
                             f"{describe_layouts(self.layouts)}")
        return found[0]

    def load(self) -> LoadedDataset:
        return self.read(check_only=False)

    def read(self, check_only: bool = False) -> LoadedDataset:
        """Load the dataset; ``check_only`` validates without slow one-time work (writing a
        pixel array's images to the cache)."""
        if self.root is None:
            raise BenchError(f"dataset {self.spec.name!r} needs --data-root (its folder)")
        root = Path(self.root).expanduser().resolve()
        if not root.exists():
            raise BenchError(f"data root {root} does not exist")
        opts = Options(self.options, self.spec.name, layout_options(self.layouts))
        layout = self.choose_layout(root, opts)
        ctx = ReadContext(dataset=self.spec.name, root=root, options=opts,
                          cache_dir=Path(self.cache_dir) / self.spec.name if self.cache_dir
                          else None, text_kind=self.text_kind, check_only=check_only,
                          n_classes=self.n_classes)
        raw = LAYOUTS[layout].read(ctx)
        ds = finalize(self.spec.name, raw, n_classes=self.n_classes,
                      class_names=self.default_class_names, standard_pairs=self.standard_pairs,
                      drop_unlabeled=opts.flag("drop_unlabeled", self.drop_unlabeled_default))
        ds.info["root"] = str(root)  # type: ignore[index]
        return ds
