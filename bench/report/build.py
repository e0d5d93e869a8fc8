"""Builds the report model from the results (records and codes), one dataset section at a time.

results (``data``) -> seed statistics (``stats``), curves from codes (``curves``), costs
(``costs``), published tables (``published``) -> figures (``figures``) and tables (``tables``)
-> a ``Report`` that the page writers (``html``, ``markdown``) render.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from bench.leaderboard import cell_stats, pivot_table, seed_groups
from bench.schema import ResultRecord

from . import figures as F
from .costs import LATENCY_QUERIES, cost_table
from .curves import curve_table, mean_curves
from .data import SHORT_DIRECTION, Results, headline_rows, row_labels, sorted_budgets
from .published import Reference, published_table
from .stats import METRICS, paired_comparisons, seed_table
from .tables import Table, fmt, mean_std, number


@dataclass
class Section:
    dataset: str
    summary: list[str]
    figures: list[F.Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    title: str
    header: list[str]
    sections: list[Section]
    published: list[Table]


def choose_bits(available: list[int], requested: int | None) -> int:
    """The bit length of the curve figures: the requested one, else 32, else the middle one."""
    if requested is not None and requested in available:
        return requested
    if 32 in available:
        return 32
    return sorted(available)[(len(available) - 1) // 2]


def protocol_line(records: list[ResultRecord], what: str) -> str:
    """How the numbers of a table were made: metric, ranking and ties, relevance, empty
    queries, split, validation and selection rules, aggregation over seeds."""
    protocols = {(p.get("version"), p.get("ties"), p.get("relevance"), p.get("empty_queries"))
                 for p in (r.protocol for r in records if r.finished)}
    parts = [what]
    for version, ties, relevance, empty in sorted(protocols, key=str):
        parts.append(f"Hamming ranking, ties {ties}; relevance: {relevance}; empty queries "
                     f"{empty}; metric protocol v{version}")
    splits = {}
    for r in records:
        s = r.split.get("sizes") or {}
        how = "a fixed split" if r.preset.get("fixed") else "a split seeded by the trial seed"
        splits[r.preset.get("name")] = (
            f"preset {r.preset.get('name')} ({how}: {s.get('query')} queries, never used for "
            f"training or selection; {s.get('retrieval')} retrieval items; "
            f"{s.get('validation')} of them validate)")
    parts.append("Split: " + "; ".join(splits[k] for k in sorted(splits, key=str)))
    validation = {r.validation.get("rule") for r in records if r.validation.get("rule")}
    if validation:
        parts.append("Validation: " + "; ".join(sorted(validation)))
    rules: dict[str, set[str]] = {}
    for r in records:
        if r.finished:
            rules.setdefault(r.selection or "not recorded", set()).add(r.method)
    if len(rules) == 1:
        parts.append(f"Selection: {next(iter(rules))} (every method)")
    else:
        parts.append("Selection: " + "; ".join(f"{', '.join(sorted(m))}: {rule}"
                                               for rule, m in sorted(rules.items())))
    return ". ".join(parts) + "."


def leaderboard_table(df: pd.DataFrame, records: list[ResultRecord], protocol: str) -> Table:
    """The leaderboard of one dataset, as ``bench leaderboard`` builds it (failed and missing
    seeds named in the cells)."""
    pivot = pivot_table(records)
    display = pivot.reset_index() if not pivot.empty else pivot
    return Table("leaderboard",
                 "Leaderboard: mAP@all and tie-aware mAP (columns: [budget /] direction / bits)",
                 protocol, display, cell_stats(df))


def seed_stats_table(df: pd.DataFrame, protocol: str) -> Table:
    data = seed_table(df)
    lines = []
    for _, r in data.iterrows():
        line = {"row": r["row"], "budget": r["budget"], "bits": r["bits"],
                "direction": r["direction"]}
        for metric, title in METRICS.items():
            if f"{metric}_mean" in data.columns:
                line[title] = mean_std(r[f"{metric}_mean"], r[f"{metric}_std"],
                                       int(r[f"{metric}_n"]), of=int(r.get("requested", 0)))
        line["seeds"] = r["seeds"]
        lines.append(line)
    return Table("seed_statistics", "Seed statistics: every cell, mean ± std (n)", protocol,
                 pd.DataFrame(lines), data)


def paired_table(df: pd.DataFrame, protocol: str, top: int = 3) -> Table:
    data = paired_comparisons(df, top=top)
    display = pd.DataFrame()
    if not data.empty:
        display = pd.DataFrame({
            "budget": data["budget"], "bits": data["bits"], "direction": data["direction"],
            "leader": data["leader"], "vs": data["other"],
            "Δ mAP@all per seed (mean ± std)": [
                fmt(m, 4, signed=True) + ("" if pd.isna(s) else f" ± {s:.4f}")
                for m, s in zip(data["diff_mean"], data["diff_std"], strict=True)],
            "sign per seed": data["signs"], "verdict": data["verdict"]})
    return Table("paired_comparison",
                 f"Paired per-seed comparison of the top {top} rows in every column",
                 protocol + " Pairs share the seed, hence the split and the training draw; "
                 "Δ = leader − other on each seed.", display, data)


def costs_table(costs: pd.DataFrame, protocol: str) -> Table:
    display = pd.DataFrame()
    if not costs.empty:
        lines = []
        for _, c in costs.iterrows():
            star = " *" if c["multi_bit"] else ""
            line = {"row": c["row"], "budget": c["budget"], "bits": c["bits"],
                    "fit time (s)": (number(c["fit_s_mean"]) + ("" if pd.isna(c["fit_s_std"])
                                     else f" ± {number(c['fit_s_std'], 2)}") + star)}
            for modality in ("image", "text", "both"):
                col = f"encode_{modality}_items_s"
                if col in costs.columns:
                    name = "encode, image+text (items/s)" if modality == "both" else \
                        f"encode, {modality} (items/s)"
                    line[name] = number(c[col]) + star
            line["code bytes / item"] = f"{c['code_bytes']:g} ({c['packed_bytes']} packed)"
            line["query latency (ms/query)"] = number(c["latency_ms"])
            line["n"] = c["n"]
            lines.append(line)
        display = pd.DataFrame(lines)
    notes = ["* a multi-bit method fits and encodes every code length at once: its fit time "
             "and throughput are for all lengths together."] if (
        not costs.empty and costs["multi_bit"].any()) else []
    return Table("costs", "Costs per method and code length", protocol, display, costs, notes)


def dataset_section(results: Results, dataset: str, colours: dict[str, str],
                    curve_bits: int | None, pdf: bool, latency_queries: int,
                    log: Callable[[str], None]) -> Section:
    df = results.of_dataset(dataset)
    records = results.records_of(list(dict.fromkeys(df["result_key"])))
    budgets = sorted_budgets(df["budget"])
    bits = sorted(int(b) for b in df["bits"].unique())
    n_failed = sum(not r.finished for r in records)
    summary = [f"{len(records) - n_failed} finished results"
               + (f" ({n_failed} failed, listed in the leaderboard cells)" if n_failed else "")
               + f": {df['row'].nunique()} rows, bits {bits}, budgets {budgets}, seeds "
               f"{sorted(int(x) for x in df['seed'].unique())}."]
    proto_map = protocol_line(records, "mAP@all, mean ± std over seeds (n = seeds)")
    sec = Section(dataset, summary)
    head = headline_rows(df)

    cells = cell_stats(head)
    cells["row"] = row_labels(cells)
    sec.figures.append(F.map_vs_bits(cells, colours, dataset, pdf))
    if len(budgets) > 1:
        all_cells = cell_stats(df)
        all_cells["row"] = row_labels(all_cells)
        all_cells["n_train"] = seed_groups(df)["n_train"].mean().to_numpy()
        sec.figures.append(F.map_vs_budget(all_cells, colours, dataset, pdf))

    b = choose_bits(bits, curve_bits)
    if curve_bits is not None and b != curve_bits:
        sec.notes.append(f"No results at {curve_bits} bits here; the curves show {b} bits.")
    log(f"bench: report: {dataset}: curves at {b} bits from the stored codes ...")
    per_seed, missing = curve_table(head, b, results.codes)
    if missing:
        sec.notes.append(f"{len(missing)} result(s) have no readable codes file; their "
                         f"curves and latency are left out: {', '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''}")
    if not per_seed.empty:
        curves_data = mean_curves(per_seed)
        sec.figures.append(F.pr_curves(curves_data, colours, dataset, b, pdf))
        sec.figures.append(F.precision_at_n(curves_data, colours, dataset, b, pdf))

    log(f"bench: report: {dataset}: costs (query latency over {latency_queries} queries) ...")
    costs = cost_table(head, results.record, results.codes, latency_queries)
    if not costs.empty:
        sec.figures.append(F.cost_bars(costs, colours, dataset, pdf))
        sec.figures.append(F.map_vs_fit_time(cells, costs, colours, dataset, pdf))

    sec.tables.append(leaderboard_table(df, records, proto_map))
    sec.tables.append(seed_stats_table(df, proto_map))
    sec.tables.append(paired_table(df, proto_map))
    n_db = costs["n_database"].dropna() if not costs.empty else pd.Series(dtype=float)
    sec.tables.append(costs_table(costs, (
        "Each row's largest budget. Fit and encode: wall-clock seconds measured in the trial "
        "(mean ± std over seeds; fit is the span of the method's fit, its progress reports to "
        "Ray Tune and MLflow included; encode covers the query and retrieval sets). Code bytes: "
        "bits / 8 (the engine's uint64 layout in brackets). Query latency: median time to rank "
        f"the whole retrieval set ({int(n_db.iloc[0]) if len(n_db) else '?'} items) for one "
        f"query by Hamming distance (packed codes, popcount, stable sort), {latency_queries} "
        "single queries per direction on one seed's codes, measured when the report is built "
        f"(machine: {_machine()}).")))
    if not per_seed.empty:
        sec.tables.append(Table(
            f"curves_{b}", f"Precision–recall and precision@N data, {b} bits (per seed)",
            protocol_line(records, "PR over Hamming radius and precision@N from the metric "
                                   "engine on the stored codes"),
            pd.DataFrame(), per_seed,
            notes=["The numbers behind the curve figures: the CSV beside this report, one row "
                   "per result, direction and point."]))
    return sec


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}"


def build_report(results: Results, references: list[Reference], curve_bits: int | None = None,
                 pdf: bool = False, latency_queries: int = LATENCY_QUERIES,
                 log: Callable[[str], None] = lambda msg: None) -> Report:
    colours = F.palette(results.table["row"])
    sections = [dataset_section(results, d, colours, curve_bits, pdf, latency_queries, log)
                for d in results.datasets()]
    published = [published_table(ref, results) for ref in references]
    commits = sorted({r.environment.get("git_commit") or "?" for r in results.records.values()})
    header = [f"Results folder: {results.root}",
              f"{len(results.table['result_key'].unique())} finished results; datasets: "
              f"{', '.join(results.datasets())}; code versions (git): {', '.join(commits)}",
              f"Built {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; directions: "
              + ", ".join(f"{v} = {k}" for k, v in SHORT_DIRECTION.items())]
    return Report("cmh-bench report", header, sections, published)
