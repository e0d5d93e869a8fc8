"""Published numbers beside measured ones.

Each table of published numbers ``results/reference/<name>.csv`` comes with ``<name>.yaml``,
which says which measured results stand beside it::

    table: <name>.csv
    title: ...            # the published table's name and source
    protocol: ...         # both protocols, one paragraph
    metric: map_all       # long-table column compared
    match: {dataset: wiki, preset: [classic, classic-full], method: ..., budget: "80", bits: 32}
    group: {column: dataset, values: {MIR Flickr: [mirflickr25k]}}   # optional
    row: {column: method}                  # rows match measured methods by name, or
    row: {column: variant, param: variant, values: {"w/o l_c": no_lc}}  # a parameter's value
    values: "{direction}_{bits}"           # the value columns (i2t_16 ...), or "{direction}"
    command: python -m bench run ...       # how to measure them
    database_codes: {unified: [CMFH, LSSH]}  # optional: published rows whose database was
                                           # coded from both modalities

A measured result belongs to the table when its record has every ``match`` value (a list means
any of them) and its database was coded as the published row's: the rows named under
``database_codes.unified`` match only results of ``bench run --database-codes unified``, the
others only per-modality results (a result of the other protocol is left out of that row, and
the table's notes say so). Cells are mean ± std over seeds of one leaderboard cell
(``cell_stats``), and the difference is measured − published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bench.errors import BenchError
from bench.leaderboard import cell_columns, cell_stats, database_codes
from bench.schema import ResultRecord

from .data import SHORT_DIRECTION, Results, row_labels
from .tables import Table, fmt, mean_std

NOT_PUBLISHED = "(not published)"
REQUIRED = ("table", "title", "protocol", "metric", "match", "row", "values")


@dataclass(frozen=True)
class Reference:
    name: str
    spec: dict[str, Any]
    table: pd.DataFrame                    # the published CSV
    columns: dict[str, tuple[str, int]]    # value column -> (direction, bits)

    @property
    def datasets(self) -> set[str]:
        """Measured dataset names this table can match."""
        group = self.spec.get("group")
        if group:
            return {d for v in group["values"].values() for d in _as_list(v)}
        return set(_as_list(self.spec["match"].get("dataset")))


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def _norm(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def load_reference(spec_path: Path) -> Reference:
    try:
        spec = yaml.safe_load(spec_path.read_text())
        missing = [k for k in REQUIRED if k not in spec]
        if missing:
            raise KeyError(", ".join(missing))
        csv = spec_path.parent / spec["table"]
        table = pd.read_csv(csv, comment="#", dtype=str, skipinitialspace=True)
        row_col, pattern = spec["row"]["column"], spec["values"]
    except (OSError, yaml.YAMLError, KeyError, TypeError, pd.errors.ParserError) as exc:
        raise BenchError(f"reference table spec {spec_path} is unreadable or incomplete "
                         f"({type(exc).__name__}: {exc})") from None
    regex = re.compile("^" + re.escape(pattern).replace(r"\{direction\}", "(?P<direction>i2t|t2i)")
                       .replace(r"\{bits\}", r"(?P<bits>\d+)") + "$")
    columns = {}
    for col in table.columns:
        m = regex.match(col)
        if m:
            bits = m.groupdict().get("bits") or spec["match"].get("bits")
            columns[col] = (m["direction"], int(bits))
    if row_col not in table.columns or not columns:
        raise BenchError(f"reference table {csv}: no column {row_col!r} or no value column "
                         f"matching {pattern!r}")
    return Reference(spec_path.stem, spec, table, columns)


def load_references(folder: Path | None) -> list[Reference]:
    if folder is None or not Path(folder).is_dir():
        return []
    return [load_reference(p) for p in sorted(Path(folder).glob("*.yaml"))]


def _matches(record: ResultRecord, bits: int, match: dict[str, Any]) -> bool:
    have = {"dataset": record.dataset, "method": record.method,
            "preset": record.preset.get("name"), "budget": record.budget, "bits": bits}
    return all(str(have.get(k)) in {str(v) for v in _as_list(want)} for k, want in match.items())


def measured_cells(ref: Reference, results: Results) -> pd.DataFrame:
    """The leaderboard cells under the table's protocol: cell columns, mean, std, count, seeds,
    plus ``entity`` (a measured row: its row label, dataset and budget),
    ``dataset_name``, ``preset``, ``row_key`` (method name or the parameter's value)."""
    df = results.table
    keep = [_matches(results.record(k), int(b), ref.spec["match"])
            for k, b in zip(df["result_key"], df["bits"], strict=True)] if not df.empty else []
    df = df[np.asarray(keep, dtype=bool)] if len(keep) else df.iloc[0:0]
    wanted = set(ref.columns.values())
    df = df[[(d, int(b)) in wanted for d, b in zip(df["direction"], df["bits"], strict=True)]]
    if df.empty:
        return pd.DataFrame()
    first_key = df.groupby(cell_columns(df), dropna=False, sort=False)["result_key"].first()
    stats = cell_stats(df, ref.spec["metric"])
    stats["result_key"] = first_key.to_numpy()
    stats["entity"] = (row_labels(stats) + " on " + stats["dataset"].astype(str) + ", budget "
                       + stats["budget"].astype(str))
    rec = stats["result_key"].map(results.record)
    stats["dataset_name"] = rec.map(lambda r: r.dataset)
    stats["preset"] = rec.map(lambda r: r.preset.get("name"))
    stats["database_codes"] = rec.map(database_codes)
    param = ref.spec["row"].get("param")
    stats["row_key"] = rec.map(lambda r: {**r.resolved_params, **r.params}.get(param) if param
                               else r.method)
    return stats


def comparison(ref: Reference, results: Results) -> pd.DataFrame:
    """Long frame: group, published_row, measured (entity or ''), dataset, preset, direction,
    bits, published, measured_mean, measured_std, n, diff (measured − published)."""
    cells = measured_cells(ref, results)
    spec, rows = ref.spec, []
    row_col, group = spec["row"]["column"], spec.get("group")
    row_map = spec["row"].get("values") or {}
    unified = {_norm(r) for r in _as_list((spec.get("database_codes") or {}).get("unified"))}
    matched: set[str] = set()
    left_out: set[str] = set()  # results of a published row coded under the other protocol
    for _, pub in ref.table.iterrows():
        gname = pub[group["column"]] if group else ""
        datasets = (_as_list(group["values"].get(gname)) if group
                    else _as_list(spec["match"].get("dataset")))
        want = row_map.get(pub[row_col], pub[row_col])
        codes = "unified" if _norm(pub[row_col]) in unified else "per-modality"
        mine = cells[(cells["dataset_name"].isin(datasets))
                     & (cells["row_key"].map(_norm) == _norm(want))] if not cells.empty else cells
        if not mine.empty:
            left_out.update(mine.loc[mine["database_codes"] != codes, "entity"])
            mine = mine[mine["database_codes"] == codes]
        entities = list(dict.fromkeys(mine["entity"])) if not mine.empty else []
        matched.update(entities)
        for entity in entities or [""]:
            for col, (direction, bits) in ref.columns.items():
                rows.append(_cell(gname, pub[row_col], entity, mine, direction, bits,
                                  float(pub[col]) if str(pub[col]).strip() else np.nan))
    if not cells.empty:
        for entity in dict.fromkeys(cells["entity"]):
            if entity in matched or entity in left_out:
                continue
            for direction, bits in ref.columns.values():
                rows.append(_cell("", NOT_PUBLISHED, entity, cells, direction, bits, np.nan))
    out = pd.DataFrame(rows)
    out.attrs["left_out"] = sorted(left_out - matched)
    return out


def _cell(group: str, pub_row: str, entity: str, cells: pd.DataFrame, direction: str,
          bits: int, published: float) -> dict[str, Any]:
    out = {"group": group, "published_row": pub_row, "measured": entity, "dataset": "",
           "preset": "", "direction": direction, "bits": bits, "published": published,
           "measured_mean": np.nan, "measured_std": np.nan, "n": 0, "diff": np.nan}
    if entity:
        hit = cells[(cells["entity"] == entity) & (cells["direction"] == direction)
                    & (cells["bits"].astype(int) == bits)]
        if not hit.empty:
            h = hit.iloc[0]
            out.update(dataset=h["dataset"], preset=h["preset"], measured_mean=h["mean"],
                       measured_std=h["std"], n=int(h["count"]),
                       diff=h["mean"] - published if not np.isnan(published) else np.nan)
    return out


def published_table(ref: Reference, results: Results) -> Table:
    """The display table: one row per published row (× measured result matched to it, and the
    measured results no published row names); cells 'published / measured / difference'."""
    data = comparison(ref, results)
    spec = ref.spec
    has_measured = bool((data["n"] > 0).any()) if not data.empty else False
    notes = [] if has_measured else [
        "No measured result under this protocol in these results; to measure: "
        f"`{spec.get('command', 'python -m bench run ...')}`"]
    display = pd.DataFrame()
    if has_measured:
        order = list(dict.fromkeys(ref.columns))
        heads = {c: f"{SHORT_DIRECTION[d]} {b}" for c, (d, b) in ref.columns.items()}
        lines = []
        keys = ["group", "published_row", "measured"]
        for key, part in data.groupby(keys, sort=False):
            line = dict(zip(["group", spec["row"]["column"], "measured as"], key, strict=True))
            if not key[2]:
                line["measured as"] = "—"
            else:
                p = part.iloc[0]
                line["measured as"] = f"{key[2]} (preset {p['preset']})"
            for col in order:
                d, b = ref.columns[col]
                c = part[(part["direction"] == d) & (part["bits"] == b)].iloc[0]
                line[heads[col]] = (f"{fmt(c['published'], 3)} / "
                                    f"{mean_std(c['measured_mean'], c['measured_std'], c['n'])}"
                                    f" / {fmt(c['diff'], 4, signed=True)}")
            lines.append(line)
        display = pd.DataFrame(lines)
        if not spec.get("group"):
            display = display.drop(columns="group")
        notes.append("Cells: published / measured mean ± std (n seeds) / difference "
                     "(measured − published); — where one side is missing.")
    if spec.get("database_codes"):
        rows = ", ".join(_as_list(spec["database_codes"].get("unified")))
        notes.append(f"Rows {rows}: the published numbers code the database from both "
                     "modalities, so they are set beside results of `bench run "
                     "--database-codes unified` only, every other row beside per-modality "
                     "results only.")
    if data.attrs.get("left_out"):
        notes.append("Left out (their database is coded otherwise than the published row's): "
                     + "; ".join(data.attrs["left_out"]) + ".")
    return Table(name=f"published_{ref.name}", title=spec["title"],
                 protocol=" ".join(str(spec["protocol"]).split()), display=display, data=data,
                 notes=notes)
