"""Writing a run's results: files written atomically into the output folder, JSON, and the Markdown report."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from .. import __version__
from .._atomic import publish
from ._paper import DIFFERENCES

__all__ = ["Writer", "fmt", "json_safe", "markdown", "records"]


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


def markdown(claims, settings, seconds, env, notes, known_rows, figures) -> str:
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
        "## Summary",
        "",
        "| Figure | Section | Verdict | The paper | Rule |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in claims:
        lines.append(f"| {c['figure']} | {c['section']} | **{c['verdict']}** | {c['text']} | {c['rule']} |")
    lines += ["", "## Why our setting differs", "", DIFFERENCES, ""]
    if settings.fast:
        lines += ["**This is the fast run** (`--fast`): a coarse grid on 40 faces, a dlib gallery of "
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


