"""Result records -> leaderboard tables.

* ``leaderboard.csv``: long format, one row per (finished record, bits, direction) with every
  metric and the definition's identity (group, data fingerprint, versions).
* ``leaderboard_pivot.csv`` / ``leaderboard.md``: paper style, rows × dataset/[budget]/
  direction/bits, mAP@all (mean ± std over seeds, ``n`` against the expected seeds) beside the
  tie-aware mAP; failed trials listed under the table.

Grouping rule: a cell aggregates only records of one *group* - equal definitions except the seed
(dataset, its version, options and data fingerprint; preset; encoder; protocol version; method,
its version and canonical hyperparameters). Whatever separates two groups that would share a row
and column is added to the row label (``gnah [preset=small]``, ``gnah [v1]``), so nothing that
differs is ever averaged and every difference is visible. Results whose database was coded from
both modalities (``bench run --database-codes unified``, part of the definition) are labelled
``cmfh [unified db]``. The expected seeds of a group are the seeds its runs asked for; a cell
says how many finished and which failed or are missing.

A finished record counts only when its codes file is intact (present, matching the record's
SHA-256, as ``bench run`` checks before it reuses a result): one whose codes file is missing or
damaged is left out of every table, named in a note under the table and in a warning (``bench
run`` redoes it).

Results of ``bench tune`` (records with a ``tuning`` origin, definitions naming their study) are
their own groups, labelled ``gnah (tuned: 40 trials)``; :func:`tuning_table` sets each beside
the untuned group of the same setting ("default vs tuned", ``leaderboard_tuning.csv`` and a
section of ``leaderboard.md``). Pruned search trials are never results.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.files import atomic_write_bytes, cannot_write
from bench.results import ResultStore, Scan
from bench.schema import DEFAULT_DATABASE_CODES, ResultRecord, group_id

DIRECTIONS = {"i2t": "I→T", "t2i": "T→I"}
#: definition fields that rows and columns already show (method label, dataset label, axes)
_SHOWN = ("method", "dataset", "dataset_options", "params", "bits", "budget", "seed",
          "database_codes")
#: the row-label mark of results whose database was coded from both modalities
UNIFIED_MARK = " [unified db]"
Warn = Callable[[str], None]


def _defaults(method: str) -> dict[str, Any] | None:
    from bench import registry
    from bench.errors import PluginError
    from bench.params import method_params

    try:
        return method_params(registry.methods.get(method), {})
    except PluginError:
        return None


def _label(name: str, values: Mapping[str, Any], defaults: Mapping[str, Any] | None) -> str:
    """``name`` or ``name[k=v,...]`` listing what differs from the defaults."""
    if defaults is None:
        changed = dict(values)
    else:
        changed = {k: v for k, v in values.items() if defaults.get(k, object()) != v}
    if not changed:
        return name
    return name + "[" + ",".join(f"{k}={changed[k]}" for k in sorted(changed)) + "]"


def tuned(rec: ResultRecord) -> bool:
    """A final result of ``bench tune`` (its configuration was chosen by a study)."""
    return bool(rec.tuning) and rec.tuning.get("role") == "final"


def database_codes(rec: ResultRecord) -> str:
    """How ``rec``'s database was coded (the definition's value; older records: per-modality)."""
    return str(rec.definition.get("database_codes", DEFAULT_DATABASE_CODES))


def method_label(rec: ResultRecord) -> str:
    if tuned(rec):  # the searched values are the study's; the label names the search instead
        searched = set(rec.tuning.get("space") or ())
        label = _label(rec.method, {k: v for k, v in rec.params.items() if k not in searched},
                       _defaults(rec.method))
        label += f" (tuned: {rec.tuning.get('trials')} trials)"
    else:
        label = _label(rec.method, rec.params, _defaults(rec.method))
    if database_codes(rec) == "unified":
        label += UNIFIED_MARK
    if rec.labels_at_encode:
        label += " (labels at encoding)"
    if rec.n_train_used is not None and rec.n_train is not None and rec.n_train_used < rec.n_train:
        label += f" (trained on {rec.n_train_used} pairs)"  # the method capped its training set
    return label


def _flatten(prefix: str, obj: Any, out: dict[str, Any]) -> None:
    if isinstance(obj, Mapping) and obj:
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = obj


def _short(value: Any) -> str:
    text = str(value)
    return text[:8] if len(text) >= 32 and text.isalnum() else text


def _suffix(field_name: str, value: Any) -> str:
    if field_name == "method_version":
        return f"v{value}"
    if field_name == "protocol_version":
        return f"protocol {value}"
    if field_name == "data_fingerprint":
        return f"data {_short(value) if value else 'unknown'}"
    if field_name == "dataset_version":
        return f"dataset v{value}"
    if field_name == "preset.name":
        return f"preset={value}"
    if field_name == "encoder.name":
        return f"encoder={value}"
    return f"{field_name}={_short(value)}"


@dataclass
class Entry:
    """One record placed in the table: its row label and column identity."""

    record: ResultRecord
    label: str
    dataset: str

    @property
    def group(self) -> str:
        return self.record.group


def entries(records: Iterable[ResultRecord]) -> list[Entry]:
    """Finished and failed records (pruned ones are not results) with row labels that make
    every row homogeneous within a dataset's columns: when the groups of one label on one
    dataset differ in anything the columns do not show (preset, versions, data fingerprint,
    encoder, ...), each label names its values of those fields."""
    out = [Entry(r, method_label(r), _label(r.dataset, r.dataset_options, {}))
           for r in records if r.status in ("finished", "failed")]
    flat: dict[str, dict[str, Any]] = {}
    blocks: dict[tuple[str, str], set[str]] = defaultdict(set)
    cells: dict[tuple[str, str, str, int], set[str]] = defaultdict(set)
    for e in out:
        if e.group not in flat:
            d: dict[str, Any] = {}
            _flatten("", {k: v for k, v in e.record.definition.items() if k not in _SHOWN}, d)
            flat[e.group] = d
        blocks[(e.label, e.dataset)].add(e.group)
        for b in e.record.bits:
            cells[(e.label, e.dataset, e.record.budget, b)].add(e.group)
    shared = {cell[:2] for cell, groups in cells.items() if len(groups) > 1}
    separating: dict[tuple[str, str], list[str]] = {}
    for block, groups in blocks.items():
        views = [flat[g] for g in groups]
        keys = set().union(*views)
        differing = sorted(k for k in keys if len({repr(v.get(k)) for v in views}) > 1)
        if not differing and block in shared:
            differing = ["group"]  # e.g. parameters the label does not show
        if differing:
            separating[block] = differing
    for e in out:
        fields_ = separating.get((e.label, e.dataset))
        if fields_:
            values = {**flat[e.group], "group": e.group}
            e.label += " [" + ", ".join(_suffix(f, values.get(f)) for f in fields_) + "]"
    mark_under_trained(out)
    return out


def under_trained_mark(rec: ResultRecord) -> str:
    """' (under-trained: S schedule)' for a record whose validation score was still rising at
    its last epoch (``resolved_params["under_trained"]``, bench/training/method.py), else ''."""
    if (rec.resolved_params or {}).get("under_trained") is not True:
        return ""
    return f" (under-trained: {rec.resolved_params.get('schedule') or 'its'} schedule)"


def mark_under_trained(out: list[Entry]) -> None:
    """Every row with an under-trained record (any seed) says so, on all of its entries."""
    marks: dict[tuple[str, str], str] = {}
    for e in out:
        marks.setdefault((e.label, e.dataset), "")
        marks[(e.label, e.dataset)] = marks[(e.label, e.dataset)] or under_trained_mark(e.record)
    for e in out:
        e.label += marks[(e.label, e.dataset)]


def long_table(records: Iterable[ResultRecord]) -> pd.DataFrame:
    """One row per finished record × bits × direction."""
    rows = []
    for e in entries(records):
        rec = e.record
        if not rec.finished:
            continue
        for bits, per_dir in rec.metrics.items():
            for direction, m in per_dir.items():
                row = {
                    "method": e.label, "dataset": e.dataset,
                    "preset": rec.preset.get("name"), "budget": rec.budget,
                    "n_train": rec.n_train,
                    "n_train_used": rec.n_train_used if rec.n_train_used is not None
                    else rec.n_train,
                    "seed": rec.seed, "bits": int(bits), "direction": direction,
                    "database_codes": database_codes(rec),
                    "map_all": m.get("map_all"), "map_tie_aware": m.get("map_tie_aware"),
                }
                for k, v in (m.get("map_at_k") or {}).items():
                    row[f"map_at_{k}"] = v
                for k, v in (m.get("p_at_k") or {}).items():
                    row[f"p_at_{k}"] = v
                row.update({
                    "n_queries": m.get("n_queries"), "n_empty_queries": m.get("n_empty_queries"),
                    "validation_map": rec.validation.get("score",
                                                         rec.validation.get("map_mean_first_bits")),
                    "fit_time_s": rec.timing.get("fit_s"),
                    "split_checksum": rec.split.get("checksum"),
                    "protocol_version": rec.definition.get("protocol_version",
                                                           rec.protocol.get("version")),
                    "method_version": rec.method_version,
                    "data_fingerprint": rec.definition.get("data_fingerprint"),
                    "encoder": (rec.encoder or {}).get("name"),
                    "group": rec.group, "result_key": rec.key,
                    "git_commit": rec.environment.get("git_commit"),
                    "recomputed": bool(rec.recomputed),
                })
                rows.append(row)
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values(["dataset", "method", "bits", "direction", "budget", "seed"],
                            kind="stable").reset_index(drop=True)
    return df


def budget_order(value: str) -> tuple[int, float]:
    """Sort key of a budget label: counts and fractions by value, then 'all'."""
    try:
        return (0, float(value))
    except ValueError:
        return (1, 0.0)


# The long-table columns that identify a leaderboard cell: everything but the seed (``group``
# is the definition's hash without the seed; the labels already separate groups that would
# share a row). Every aggregation of the long table over seeds (the report's figures and
# tables) groups by these, so it follows the same rule as the pivot.
CELL_COLUMNS = ("dataset", "method", "group", "budget", "direction", "bits")


def cell_columns(df: pd.DataFrame) -> list[str]:
    """The cell columns present in the long table ``df``."""
    return [c for c in CELL_COLUMNS if c in df.columns]


def seed_groups(df: pd.DataFrame, extra: tuple[str, ...] = ()):
    """The long table ``df`` grouped into leaderboard cells (rows that differ only by seed),
    optionally split further by ``extra`` columns; a pandas GroupBy in order of appearance."""
    return df.groupby([*cell_columns(df), *extra], dropna=False, sort=False)


def cell_stats(df: pd.DataFrame, metric: str = "map_all") -> pd.DataFrame:
    """One row per leaderboard cell of the long table: its cell columns, then ``mean``,
    ``std``, ``count`` of ``metric`` over the finished seeds and ``seeds`` (sorted)."""
    if df.empty:
        return pd.DataFrame(columns=[*cell_columns(df), "mean", "std", "count", "seeds"])
    groups = seed_groups(df)
    stats = groups[metric].agg(["mean", "std", "count"])
    stats["seeds"] = groups["seed"].agg(lambda s: tuple(sorted(s)))
    return stats.reset_index()


@dataclass
class _Cell:
    values: list[float] = field(default_factory=list)
    tie: list[float] = field(default_factory=list)
    seeds: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    expected: set[int] = field(default_factory=set)


def _seeds(seeds: Iterable[int]) -> str:
    return ",".join(str(s) for s in sorted(seeds))


def _format(c: _Cell) -> tuple[str, str]:
    expected = c.expected | c.seeds | c.failed
    missing = expected - c.seeds - c.failed
    notes = []
    if c.failed:
        notes.append(f"failed: seed {_seeds(c.failed)}")
    if missing:
        notes.append(f"missing: seed {_seeds(missing)}")
    count = f"n={len(c.seeds)}/{len(expected)}" + ("; " + "; ".join(notes) if notes else "")
    vals = [v for v in c.values if v is not None and v == v]
    ties = [v for v in c.tie if v is not None and v == v]
    if not c.seeds:
        return ("failed" if c.failed else "missing") + f" ({count})", ""
    if not vals:
        return f"n/a ({count})", ""
    s = pd.Series(vals, dtype=float)
    main = f"{s.mean():.4f}" + (f" ± {s.std():.4f}" if len(vals) > 1 else "") + f" ({count})"
    t = pd.Series(ties, dtype=float)
    tie = (f"{t.mean():.4f}" + (f" ± {t.std():.4f}" if len(ties) > 1 else "")) if ties else ""
    return main, tie


def pivot_table(records: Iterable[ResultRecord]) -> pd.DataFrame:
    """Rows × (dataset, [budget,] direction, bits): mAP@all cells (mean ± std, n of expected
    seeds, failed / missing seeds) each followed by a tie-aware mAP column."""
    es = entries(records)
    if not es:
        return pd.DataFrame()
    budgets = defaultdict(set)
    for e in es:
        budgets[e.dataset].add(e.record.budget)
    several_budgets = max(len(v) for v in budgets.values()) > 1
    cells: dict[tuple[str, tuple], _Cell] = defaultdict(_Cell)
    for e in es:
        rec = e.record
        for b in rec.bits:
            for d in DIRECTIONS:
                col = (e.dataset, *((rec.budget,) if several_budgets else ()), d, int(b))
                c = cells[(e.label, col)]
                c.expected |= set(rec.requested_seeds)
                if rec.finished:
                    m = (rec.metrics.get(str(b)) or {}).get(d) or {}
                    c.seeds.add(rec.seed)
                    c.values.append(m.get("map_all"))
                    c.tie.append(m.get("map_tie_aware"))
                else:
                    c.failed.add(rec.seed)
    for c in cells.values():
        c.failed -= c.seeds  # a seed that failed once and then finished counts as finished
    cols = sorted({col for _, col in cells}, key=lambda col: tuple(
        budget_order(v) if i == 1 and several_budgets else (0, str(v)) if isinstance(v, str)
        else (0, v) for i, v in enumerate(col)))
    rows = sorted({label for label, _ in cells})
    one_dataset = len(budgets) == 1  # then the title names it, not every column
    data: dict[str, list[str]] = {}
    for col in cols:
        shown = col[1:] if one_dataset else col
        name = " / ".join(DIRECTIONS.get(str(x), str(x)) for x in shown)
        main, tie = [], []
        for label in rows:
            c = cells.get((label, col))
            m, t = _format(c) if c is not None else ("", "")
            main.append(m)
            tie.append(t)
        data[name] = main
        data[f"{name} tie-aware"] = tie
    table = pd.DataFrame(data, index=pd.Index(rows, name="method"))
    table.attrs["dataset"] = next(iter(budgets)) if one_dataset else None
    return table


def _mean_std(values: list[float]) -> tuple[float | None, str]:
    vals = [v for v in values if v is not None and v == v]
    if not vals:
        return None, ""
    s = pd.Series(vals, dtype=float)
    text = f"{s.mean():.4f}" + (f" ± {s.std():.4f}" if len(vals) > 1 else "")
    return float(s.mean()), f"{text} (n={len(vals)})"


def tuning_table(records: Iterable[ResultRecord], studies: set[str] | None = None) -> pd.DataFrame:
    """Default vs tuned: one row per tuned result group (``bench tune``'s final runs; only the
    ``studies`` named, when given) × bits × direction, beside the untuned group of the same
    setting - equal definitions except that the parameters are the study's base parameters
    (defaults updated by ``--set``) and no study. mAP@all mean ± std over seeds; ``delta`` =
    tuned - default when both exist."""
    finished = [r for r in records if r.finished]
    groups: dict[str, list[ResultRecord]] = defaultdict(list)
    for r in finished:
        groups[r.group].append(r)
    rows = []
    for recs in groups.values():
        first = recs[0]
        if not tuned(first) or (studies is not None and first.tuning.get("study") not in studies):
            continue
        t = first.tuning
        untuned = {k: v for k, v in first.definition.items() if k != "tuned_by"}
        untuned["params"] = t.get("base_params") or {}
        base = groups.get(group_id(untuned), [])
        for bits in first.bits:
            for d in DIRECTIONS:
                def values(rs: list[ResultRecord], b: int = bits, dd: str = d) -> list:
                    return [((r.metrics.get(str(b)) or {}).get(dd) or {}).get("map_all")
                            for r in rs]
                tm, tt = _mean_std(values(recs))
                dm, dt = _mean_std(values(base))
                rows.append({
                    "method": first.method, "dataset": first.dataset,
                    "preset": first.preset.get("name"), "budget": first.budget, "bits": bits,
                    "direction": DIRECTIONS[d], "default": dt or "not run", "tuned": tt,
                    "delta": "" if tm is None or dm is None else f"{tm - dm:+.4f}",
                    "trials": t.get("trials"), "pruned": t.get("pruned"),
                    "best_trial": t.get("best_trial"),
                    "validation": (f"{t['validation_score']:.4f}"
                                   if t.get("validation_score") is not None else ""),
                    "study": t.get("study"),
                })
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values(["dataset", "method", "budget", "bits", "direction"],
                            kind="stable").reset_index(drop=True)
    return df


TUNING_NOTES = (
    "Default vs tuned: 'tuned' rows are fresh runs, on the final seeds, of the configuration "
    "a bench tune study chose on the held-out validation split (never the query set), every "
    "method with the same number of trials; 'default' is the same setting with the "
    "parameters the search started from. 'validation' is the best trial's validation mAP.")


def md_cell(value: Any) -> str:
    """``value`` as one Markdown table cell: line breaks become spaces, ``|`` is escaped and
    so is HTML (a method label or an error message never breaks the table or adds markup)."""
    text = " ".join(str(value).splitlines())
    return html.escape(text, quote=False).replace("|", "\\|")


def tuning_markdown(table: pd.DataFrame) -> str:
    if table.empty:
        return ""
    cols = list(table.columns)
    lines = ["## Default vs tuned (query-set mAP@all)", "",
             "| " + " | ".join(map(md_cell, cols)) + " |", "|" + "---|" * len(cols)]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(md_cell(row[c]) for c in cols) + " |")
    return "\n".join([*lines, "", TUNING_NOTES, ""])


NOTES = (
    "mAP@all: Hamming ranking over the retrieval database in a seeded order (the trial seed; "
    "never dataset order), ties broken by that position; relevance = at least one shared "
    "label; queries without a relevant item excluded. 'tie-aware': the expected AP when items "
    "at equal Hamming distance are in random order (McSherry & Najork 2008); a large gap to "
    "mAP@all means many ties (e.g. collapsed codes). mean ± std over seeds; n = seeds finished "
    "of the seeds the runs asked for, with failed and missing seeds named. A cell aggregates "
    "only results with one definition (dataset, version, options and data fingerprint; preset; "
    "encoder; protocol; method version and hyperparameters); whatever separates two rows is in "
    "their labels ([...]). '(labels at encoding)': the method reads ground-truth labels when "
    "encoding query and database items (a label leak of the reference method), so the row is "
    "not comparable. '(trained on N pairs)': the method used a seeded subset of N of the "
    "budget's training pairs (its own cap). '[unified db]': the database items were coded from "
    "both modalities at once (bench run --database-codes unified), every other row codes each "
    "modality alone. '(under-trained: S schedule)': in at least one seed the validation mAP of "
    "the last epoch of schedule S was more than 0.02 above the best of the first half of its "
    "epochs: the method was still learning when its schedule (e.g. the short CPU 'quick' one) "
    "ended.")


def to_markdown(table: pd.DataFrame, title: str, failed: list[ResultRecord] | None = None,
                notes: list[str] | None = None) -> str:
    if table.empty:
        return "\n".join([f"# {title}", "", "No results yet.", "",
                          *[f"* {note}" for note in notes or []]]).rstrip() + "\n"
    header = ["method", *table.columns]
    lines = [f"# {md_cell(title)}", "", "| " + " | ".join(map(md_cell, header)) + " |",
             "|" + "---|" * len(header)]
    for method, row in table.iterrows():
        lines.append("| " + " | ".join(map(md_cell, [method, *row])) + " |")
    lines += ["", NOTES, ""]
    if failed:
        lines += ["## Failed trials (no result; a rerun retries them)", "",
                  "| key | seed | error | stage | attempt | traceback |",
                  "|---|---|---|---|---|---|"]
        for r in failed:
            err = r.error
            msg = (f"{err.type}: {err.message}" if err else "?")[:200]
            lines.append("| " + " | ".join(map(md_cell, [
                r.key, r.seed, msg, err.stage if err else "", r.attempt,
                (err.traceback_file or "") if err else ""])) + " |")
        lines.append("")
    for note in notes or []:
        lines.append(f"* {md_cell(note)}")
    return "\n".join(lines).rstrip() + "\n"


def write_leaderboard(results_dir: Path, out_dir: Path | None = None,
                      warn: Warn | None = None, scan: Scan | None = None) -> dict[str, Path]:
    """Build the tables from every record under ``results_dir``; returns the written paths.
    Unreadable records are skipped and duplicates resolved (see ``ResultStore.scan``), finished
    records whose codes file is missing or damaged left out, each reported through ``warn``.
    Nothing under ``results_dir`` but the tables is written; a one-line BenchError names a
    table that cannot be written."""
    store = ResultStore(results_dir)
    scan = scan if scan is not None else store.scan(warn)
    broken = [(r, why) for r in scan.records if r.finished and r.codes and r.codes.get("file")
              and (why := store.codes_problem(r))]
    left_out = {r.key for r, _ in broken}
    records = [r for r in scan.records if r.key not in left_out]
    out = Path(out_dir or results_dir).resolve()
    df = long_table(records)
    pivot = pivot_table(records)
    failed = [r for r in records if r.status == "failed"]
    notes = [f"ignored {ignored.name}: same definition and seed as {kept.name} (newer)"
             for ignored, kept in scan.duplicates]
    notes += [f"unreadable record moved to {dst}" for _, dst, _ in scan.quarantined]
    notes += [f"unreadable record {src} not counted ({why})" for src, why in scan.unreadable]
    for r, why in broken:
        notes.append(f"not counted: {r.key} ({why}; 'bench run' redoes it)")
        if warn is not None:
            warn(f"bench: warning: result {r.key} not counted: {why} ('bench run' redoes it)")
    paths = {"long": out / "leaderboard.csv", "pivot": out / "leaderboard_pivot.csv",
             "markdown": out / "leaderboard.md"}
    _write(paths["long"], df.to_csv(index=False).encode())
    _write(paths["pivot"], pivot.to_csv().encode())
    title = "Leaderboard: mAP@all and tie-aware mAP"
    if pivot.attrs.get("dataset"):
        title += f" on {pivot.attrs['dataset']}"
    markdown = to_markdown(pivot, title, failed, notes)
    tuning = tuning_table(records)
    if not tuning.empty:
        paths["tuning"] = out / "leaderboard_tuning.csv"
        _write(paths["tuning"], tuning.to_csv(index=False).encode())
        markdown += "\n" + tuning_markdown(tuning)
    _write(paths["markdown"], markdown.encode())
    return paths


def _write(path: Path, data: bytes) -> None:
    """One table, atomically; a one-line BenchError when it cannot be written."""
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise cannot_write(path, exc, "--out DIR writes the tables elsewhere") from None
