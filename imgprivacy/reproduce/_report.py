"""Writing a run's results: files written atomically into the output folder, JSON, and the Markdown report."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from .. import __version__
from .._atomic import publish
from ._paper import differences

__all__ = ["Writer", "answer", "compare_table", "fmt", "json_safe", "markdown", "records"]


def json_safe(value):
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def records(table) -> list[dict]:
    return json_safe(table.to_dict(orient="records"))


class Writer:
    def __init__(self, out: Path):
        self.out = out
        self.files: list[str] = []

    def bytes(self, name: str, payload: bytes) -> None:
        publish(payload, self.out / name, overwrite=False)
        self.files.append(name)

    def text(self, name: str, text: str) -> None:
        self.bytes(name, text.encode("utf-8"))

    def figure(self, name: str, fig) -> None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        import matplotlib.pyplot as plt

        plt.close(fig)
        self.bytes(name, buffer.getvalue())


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " -> ".join(fmt(v) for v in value)
    return str(value)


def _setting(row) -> str:
    if row["scheme"] == "uep":
        return f"β {row['beta']:g}"
    return f"α {row['alpha']:g}, k {int(row['k'])}, block {int(row['block'])}"


def answer(best, info, clean=None) -> list[str]:
    """The plain answer for the first recogniser (dlib's ResNet when it ran) and the table for all (Markdown lines)."""
    label = {"krtio": "k-RTIO", "uep": "UEP"}
    first = best["target"].iloc[0]
    lines = [f"At {info['size']} ({info['name']}), the most private setting of each scheme that keeps the mean SSIM at "
             f"or above a threshold lowers {first}'s recognition"
             + (f" ({clean[first]:.2f} on the clean photos)" if clean and first in clean else "") + " to:", ""]
    for t, rows in best[best["target"] == first].groupby("min_ssim", sort=False):
        said = [f"{label.get(r['scheme'], r['scheme'])} **{r['rate']:.2f}** ({_setting(r)}; SSIM {r['ssim']:.2f})"
                if r["rate"] == r["rate"] else f"{label.get(r['scheme'], r['scheme'])}: no setting keeps it"
                for r in rows.to_dict("records")]
        lines.append(f"- SSIM ≥ {t:g}: " + ", ".join(said))
    lines += ["", "| recogniser | scheme | SSIM ≥ | best setting | its SSIM | rate | n |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in best.to_dict("records"):
        have = r["rate"] == r["rate"]
        lines.append(f"| {r['target']} | {label.get(r['scheme'], r['scheme'])} | {r['min_ssim']:g} | "
                     f"{_setting(r) if have else 'none'} | {r['ssim']:.2f} | {r['rate']:.2f} | {int(r['n'])} |" if have else
                     f"| {r['target']} | {label.get(r['scheme'], r['scheme'])} | {r['min_ssim']:g} | none | | | |")
    return lines + [""]


def compare_table(claims, info, earlier) -> list[str]:
    """The verdicts of this run beside those of earlier runs (``compare``), and their frontier answers."""
    heads = [f"this run: {info['name']} {info['size']}"] + [
        f"{e['faces'].get('name', '?')} {e['faces'].get('size', '?')}{' (fast)' if e.get('fast') else ''}" for e in earlier]
    lines = ["## Across face sets", "",
             "The same rules on other runs (`compare`: " + ", ".join(f"`{e['folder']}`" for e in earlier) + ").", "",
             "| Claim | " + " | ".join(heads) + " |", "| --- |" + " --- |" * len(heads)]
    for c in claims:
        lines.append(f"| {c['figure']} ({c['id']}) | {c['verdict']} | "
                     + " | ".join(e["verdicts"].get(c["id"], "not run") for e in earlier) + " |")
    here = sum(c["verdict"] == "agrees" for c in claims)
    lines += ["", f"Agreeing claims: {here} here; "
              + "; ".join(f"{sum(v == 'agrees' for v in e['verdicts'].values())} on {h}" for e, h in zip(earlier, heads[1:]))
              + ".", ""]
    for e, h in zip(earlier, heads[1:]):
        dl = [r for r in e.get("best", []) if r.get("target") == "dlib ResNet" and r.get("rate") is not None]
        if dl:
            lines.append(f"- {h}: dlib's lowest rate keeping SSIM ≥ "
                         + "; ".join(f"{r['min_ssim']:g}: {r['rate']:.2f} ({r['scheme']})" for r in dl) + ".")
    return lines + [""]


def markdown(claims, settings, seconds, env, notes, known_rows, figures, *, info=None, best=None, earlier=(),
             clean=None) -> str:
    info = info or {"name": "Olivetti", "size": "64×64", "width": 64, "height": 64, "colour": False, "people": 40,
                    "photos": 400, "held_out": 120}
    lines = [
        "# imgprivacy: the paper's evaluation, reproduced",
        "",
        f"`imgprivacy reproduce{' --fast' if settings.fast else ''}` with imgprivacy {__version__} on {env['device']} "
        f"({env['platform']}), {seconds['total']:.0f} s in all. Every number is in `results.json`; the tables are "
        "the CSV files beside this report.",
        "",
        "Paper: \"On the (Im)Practicality of Adversarial Perturbation for Image Privacy\", PoPETS 2021. Its numbers "
        "are typed in from its text (the figures' data are not published); each verdict is computed by the rule "
        "shown, fixed before any run.",
        "",
        f"Face set: **{info['name']}**, {info['size']} pixels (width x height), {'colour' if info['colour'] else 'grey'}, "
        f"{info['people']} people, {info['photos']} photos. Blocks: {', '.join(str(b) for b in settings.blocks)} px "
        "(blocks of 16 px or less keep the paper's sizes; the larger ones of the Olivetti grid, 32 and 64 px: half "
        "the face and all of it, scale with the face's short side).",
        "",
        "## Summary",
        "",
        "| Figure | Section | Verdict | The paper | Rule |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in claims:
        lines.append(f"| {c['figure']} | {c['section']} | **{c['verdict']}** | {c['text']} | {c['rule']} |")
    lines += ["", "## Why our setting differs", "", differences(info, settings.blocks, info.get("held_out", 120)), ""]
    if settings.fast:
        lines += [f"**This is the fast run** (`--fast`): a coarse grid on {info.get('held_out', 40)} faces"
                  + (f" (the known-S attack on {settings.known_s_faces})" if settings.known_s_faces else "")
                  + ", a dlib gallery of "
                  f"{settings.dlib_people} people; numbers are noisier than the full run's.", ""]
    for note in notes:
        lines += [f"Note: {note}", ""]
    lines += ["## Each claim", ""]
    for c in claims:
        lines += [f"### {c['figure']} (section {c['section']}): {c['verdict']}", "", f"*The paper:* {c['text']}", "",
                  f"*Ours:* {fmt(c['ours']) if c['ours'] else 'not measured'}", ""]
        if c["verdict"] != "agrees":
            lines += [f"*Why they differ:* {c['why']}", ""]
        else:
            lines += [f"*Note:* {c['why']}", ""]
        for fig_name in figures.get(c["id"], ()):
            lines += [f"![{fig_name}]({fig_name})", ""]
    if best is not None and len(best):
        lines += ["## The privacy-utility frontier", "",
                  "Every setting of both schemes (k-RTIO: alpha x k x block of the grid above; UEP: beta) as a point of "
                  "utility (mean SSIM of the protected photo to the original) and privacy (1 - recognition rate); "
                  "the Pareto frontier of each scheme is drawn, the paper's sweet spot (k = 3, alpha = 0.45, "
                  "block < 20) ringed and UEP at beta = 3 starred. The plain answer:", ""]
        lines += answer(best, info, clean)
        lines += ["![frontier.png](frontier.png)", "", "The table: `frontier.csv`; the best settings: "
                  "`best_settings.csv`.", ""]
    if earlier:
        lines += compare_table(claims, info, earlier)
    lines += ["## Beyond the paper: the known-S block attack", "",
              "The paper (section 7) supposes an adversary could use the structure of the overlay images but does "
              "not try. Here the provider knows the overlay set S and alpha, k and the block size (written in "
              "every protected PNG), not the key: for each photo it finds which overlays and which of their blocks "
              "were mixed in (`imgprivacy.attacks.known_overlay_attack`) and subtracts them. alpha = 0.45, k = 3, "
              "the 8-bit PNG as received.", ""]
    if known_rows:
        keys = list(known_rows[0])
        lines += ["| " + " | ".join(keys) + " |", "| " + " | ".join("---" for _ in keys) + " |"]
        for r in known_rows:
            lines.append("| " + " | ".join(fmt(r[k]) for k in keys) + " |")
        lines += ["", "![known_s_attack.png](known_s_attack.png)", ""]
    lines += ["## Time", "", "| stage | seconds |", "| --- | --- |"]
    lines += [f"| {k} | {v:.1f} |" for k, v in seconds.items()]
    return "\n".join(lines) + "\n"


