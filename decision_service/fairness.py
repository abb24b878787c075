"""Fairness report: approval and default rates by gender, age band and state, with the disparate-impact ratio.

Why: lenders must show that similar borrowers are treated alike, and the four-fifths rule is the common screen — a
group whose approval rate is below 80% of the most-favoured group's is flagged for review (a flag is a question to
answer, not a verdict: the report also shows default rates, because a gap in approvals that mirrors a gap in
repayment is a different finding from one that does not).

Numbers:
* approval rate — share of lender decisions that approve, per group (Fairlearn ``MetricFrame`` + ``selection_rate``);
* disparate-impact ratio — group approval rate / the highest group's rate; Fairlearn's
  ``demographic_parity_ratio`` is the smallest of these;
* default rate — share of loans (the pre-window book and the backfilled loans) that reached 90+ DPD;
* 95% bootstrap intervals — stratified bootstrap within each group. For a 0/1 outcome resampling ``n`` rows with
  replacement gives Binomial(n, p̂) successes exactly, so the replicates are drawn from that distribution instead of
  materialising millions of resampled rows.

Output: ``fairness.json`` and ``fairness.html`` (Plotly) in ``artifacts/fairness/`` by default.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from fairlearn.metrics import MetricFrame, demographic_parity_ratio, selection_rate

FOUR_FIFTHS = 0.8
AGE_BANDS = (("18-25", 18, 25), ("26-35", 26, 35), ("36-45", 36, 45), ("46-60", 46, 60), ("61+", 61, 200))
ATTRIBUTES = ("gender", "age_band", "state")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "artifacts" / "fairness"


def _age_band_sql(age: str) -> str:
    cases = " ".join(f"WHEN {age} BETWEEN {lo} AND {hi} THEN '{label}'" for label, lo, hi in AGE_BANDS)
    return f"CASE {cases} ELSE 'unknown' END"


def _bootstrap_rates(k: np.ndarray, n: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, groups) replicate rates of a stratified bootstrap of 0/1 outcomes (k successes of n per group)."""
    p = np.divide(k, n, out=np.zeros(len(n)), where=n > 0)
    return rng.binomial(n.astype(np.int64), p, size=(n_boot, len(n))) / np.maximum(n, 1)


def _weighted_count(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    """Rows per group when each input row stands for ``sample_weight`` identical rows."""
    return float(np.sum(sample_weight))


def group_rates(
    outcome: np.ndarray, groups: np.ndarray, *, weights: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0,
    threshold: float = FOUR_FIFTHS, min_group_size: int = 30, ratio: bool = True,
) -> dict[str, Any]:
    """Rate of a 0/1 ``outcome`` per group with 95% bootstrap CIs and (for approvals) disparate-impact ratios.

    ``weights`` lets callers pass pre-aggregated rows (one row per group and outcome with its count): the warehouse
    holds millions of decisions, and Fairlearn's weighted metrics give the same rates from a few dozen rows.
    The reference group for the ratio is the group with the highest rate among groups of at least
    ``min_group_size`` rows (tiny groups are reported but neither set the reference nor get flagged).
    """
    y = np.asarray(outcome).astype(int)
    g = np.asarray(groups).astype(str)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    mf = MetricFrame(
        metrics={"rate": selection_rate, "n": _weighted_count}, y_true=y, y_pred=y, sensitive_features=g,
        sample_params={"rate": {"sample_weight": w}, "n": {"sample_weight": w}},
    )
    table = mf.by_group
    names = [str(i) for i in table.index]
    n = np.round(table["n"].to_numpy(dtype=float)).astype(np.int64)
    rate = table["rate"].to_numpy(dtype=float)
    k = np.round(rate * n)
    rng = np.random.default_rng(seed)
    boot = _bootstrap_rates(k, n, n_boot, rng)
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    out: dict[str, Any] = {"groups": {}}
    big = n >= min_group_size
    ref = int(np.argmax(np.where(big, rate, -1))) if big.any() else int(np.argmax(rate))
    for i, name in enumerate(names):
        out["groups"][name] = {"n": int(n[i]), "rate": float(rate[i]), "ci95": [float(lo[i]), float(hi[i])]}
    if ratio:
        with np.errstate(divide="ignore", invalid="ignore"):
            di = rate / rate[ref] if rate[ref] > 0 else np.full(len(n), np.nan)
            di_boot = boot / boot[:, [ref]]
        di_lo, di_hi = np.nanpercentile(np.where(np.isfinite(di_boot), di_boot, np.nan), [2.5, 97.5], axis=0)
        for i, name in enumerate(names):
            flagged = bool(big[i] and di[i] < threshold - 1e-12)  # exactly 4/5 passes, float noise aside
            out["groups"][name].update(di_ratio=float(di[i]), di_ci95=[float(di_lo[i]), float(di_hi[i])],
                                       flagged=flagged)
        out["reference_group"] = names[ref]
        out["demographic_parity_ratio"] = float(demographic_parity_ratio(y, y, sensitive_features=g, sample_weight=w))
        out["min_di_ratio"] = float(np.min(di[big])) if big.any() else float("nan")
        out["flagged"] = [name for name in names if out["groups"][name]["flagged"]]
    return out


# Aggregated in the engine: one row per (outcome, gender, state, age band) with its count, not millions of rows.
_DECISIONS_SQL = """
SELECT d.decision = 'approve' AS approved, p.gender, p.state,
       {age_band} AS age_band, count(*) AS weight
FROM decisions d
JOIN applications a USING (application_id)
JOIN applicants p ON p.applicant_id = a.applicant_id
WHERE (?::VARCHAR IS NULL OR d.lender_id = ?)
GROUP BY ALL
"""
_LOANS_SQL = """
SELECT l.defaulted_on IS NOT NULL AS defaulted, p.gender, p.state,
       {age_band} AS age_band, count(*) AS weight
FROM loans l
JOIN applicants p ON p.applicant_id = l.applicant_id
WHERE (?::VARCHAR IS NULL OR l.lender_id = ?)
GROUP BY ALL
"""


def fairness_report(
    con: duckdb.DuckDBPyConnection, *, lender_id: str | None = None, n_boot: int = 1000, seed: int = 0,
    threshold: float = FOUR_FIFTHS, min_group_size: int = 30,
) -> dict[str, Any]:
    """Approval and default rates by gender, age band and state from the warehouse (decisions, loans)."""
    dec_age = _age_band_sql("date_diff('year', p.date_of_birth, CAST(a.received_at AS DATE))")
    loan_age = _age_band_sql("date_diff('year', p.date_of_birth, l.disbursed_on)")
    dec = con.execute(_DECISIONS_SQL.format(age_band=dec_age), [lender_id, lender_id]).df()
    loans = con.execute(_LOANS_SQL.format(age_band=loan_age), [lender_id, lender_id]).df()
    report: dict[str, Any] = {
        "lender_id": lender_id, "threshold": threshold, "n_boot": n_boot, "min_group_size": min_group_size,
        "decisions": int(dec["weight"].sum()), "loans": int(loans["weight"].sum()),
        "overall_approval_rate": float((dec["approved"] * dec["weight"]).sum() / dec["weight"].sum()) if len(
            dec) else float("nan"),
        "attributes": {},
    }
    for attr in ATTRIBUTES:
        entry: dict[str, Any] = {}
        if len(dec):
            entry["approval"] = group_rates(dec["approved"].to_numpy(), dec[attr].fillna("unknown").to_numpy(),
                                            weights=dec["weight"].to_numpy(), n_boot=n_boot, seed=seed,
                                            threshold=threshold, min_group_size=min_group_size)
        if len(loans):
            entry["default"] = group_rates(loans["defaulted"].to_numpy(), loans[attr].fillna("unknown").to_numpy(),
                                           weights=loans["weight"].to_numpy(), n_boot=n_boot, seed=seed + 1,
                                           min_group_size=min_group_size, ratio=False)
        report["attributes"][attr] = entry
    report["flagged"] = {attr: e.get("approval", {}).get("flagged", []) for attr, e in report["attributes"].items()}
    return report


def render_html(report: dict[str, Any]) -> str:
    """One page: per attribute, approval rate with 95% CI, disparate-impact ratio against the 0.8 line, default rate."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    parts = [f"<h1>Fairness report{' — lender ' + report['lender_id'] if report['lender_id'] else ''}</h1>",
             f"<p>{report['decisions']:,} decisions, {report['loans']:,} loans; four-fifths threshold "
             f"{report['threshold']}; 95% stratified bootstrap intervals ({report['n_boot']} replicates). "
             f"Flagged groups: {json.dumps(report['flagged'])}</p>"]
    first = True
    for attr, entry in report["attributes"].items():
        fig = make_subplots(rows=1, cols=3, subplot_titles=("approval rate", "disparate-impact ratio", "default rate"))
        for col, (key, value_key, ci_key) in enumerate(
            (("approval", "rate", "ci95"), ("approval", "di_ratio", "di_ci95"), ("default", "rate", "ci95")), start=1
        ):
            groups = entry.get(key, {}).get("groups", {})
            names = list(groups)
            vals = [groups[g].get(value_key, np.nan) for g in names]
            ci = [groups[g].get(ci_key, [np.nan, np.nan]) for g in names]
            colors = ["#d62728" if groups[g].get("flagged") else "#1f77b4" for g in names]
            fig.add_trace(go.Bar(
                x=names, y=vals, marker_color=colors, showlegend=False,
                error_y={"type": "data", "symmetric": False, "array": [c[1] - v for c, v in zip(ci, vals, strict=True)],
                         "arrayminus": [v - c[0] for c, v in zip(ci, vals, strict=True)]},
            ), row=1, col=col)
            if value_key == "di_ratio":
                fig.add_hline(y=report["threshold"], line_dash="dash", line_color="#d62728", row=1, col=col)
        fig.update_layout(title=f"by {attr}", height=420)
        # plotly.js is inlined once (first chart): the report must open offline.
        parts.append(fig.to_html(full_html=False, include_plotlyjs=first))
        first = False
    return "<html><head><meta charset='utf-8'><title>Fairness report</title></head><body>" + "".join(parts) + \
        "</body></html>"


def write_report(report: dict[str, Any], out_dir: Path | str = DEFAULT_OUT) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / "fairness.json", out / "fairness.html"
    json_path.write_text(json.dumps(report, indent=1, default=float))
    html_path.write_text(render_html(report))
    return json_path, html_path


CLI_HELP = ("Fairness report: approval and default rates by gender, age band and state with disparate-impact "
            "ratios (four-fifths rule) and bootstrap intervals; writes JSON and HTML (Plotly).")


def cli_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", type=Path, default=None,
                        help="warehouse file to read (default: the read-only replica)")
    parser.add_argument("--lender", default=None, help="one lender only (default: all decisions)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    parser.add_argument("--threshold", type=float, default=FOUR_FIFTHS, help="flag below this ratio (default 0.8)")
    parser.add_argument("--min-group-size", type=int, default=30, help="groups smaller than this are not flagged")


def cli_main(args: argparse.Namespace) -> int:
    from warehouse.db import connect_reader

    con = connect_reader(args.warehouse)
    try:
        report = fairness_report(con, lender_id=args.lender, n_boot=args.n_boot, threshold=args.threshold,
                                 min_group_size=args.min_group_size)
    finally:
        con.close()
    json_path, html_path = write_report(report, args.out)
    print(f"fairness: {report['decisions']:,} decisions, overall approval {report['overall_approval_rate']:.1%}")
    for attr, entry in report["attributes"].items():
        appr = entry.get("approval", {})
        print(f"  {attr:<9} min disparate-impact ratio {appr.get('min_di_ratio', float('nan')):.3f} "
              f"(reference {appr.get('reference_group')}); flagged: {', '.join(appr.get('flagged', [])) or 'none'}")
    print(f"wrote {json_path} and {html_path}")
    return 0
