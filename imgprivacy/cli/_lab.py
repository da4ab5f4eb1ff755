"""``imgprivacy lab``: write the student version of the notebooks, list or show the reference solutions."""

from __future__ import annotations

from pathlib import Path

from .. import lab
from ._common import CLIError, show


def cmd_lab_student(args) -> int:
    """Write the student version of every notebook into a new folder; an existing notebook there is never replaced."""
    out = Path(args.dir)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{show(args.dir)} is a file; give a new or empty folder for the student notebooks")
    source = Path(args.source) if args.source else lab.default_source()
    if not source.is_dir():
        raise CLIError(f"no notebook folder {show(source)}: run from a clone of the repository, or pass --source DIR")
    try:
        written = lab.write_student_version(out, source=source)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    except FileExistsError as exc:
        raise CLIError(str(exc)) from None
    except (ValueError, UnicodeDecodeError) as exc:  # a malformed notebook or solution markers
        raise CLIError(f"cannot make the student version: {exc}") from None
    count = sum(len(lab.exercises(p.name)) for p in written)
    print(f"wrote {len(written)} student notebooks ({count} exercises, {sum(e.points for e in lab.exercises())} points) "
          f"to {out}; the solutions are replaced by `raise NotImplementedError()`")
    return 0


def cmd_lab_solutions(args) -> int:
    """List the exercises, or print one exercise's reference solution."""
    if args.name is None:
        print(f"{'exercise':<24} {'points':>6}  notebook: what is asked")
        for ex in lab.exercises():
            print(f"{ex.name:<24} {ex.points:>6}  {ex.notebook}: {ex.title}")
        print("show one: imgprivacy lab solutions NAME")
        return 0
    try:
        ex = lab.exercise(args.name)
    except ValueError as exc:
        raise CLIError(str(exc).replace("ip.lab.exercises() lists", "imgprivacy lab solutions lists")) from None
    print(f"# {ex.name} ({ex.notebook}, {ex.points} points): {ex.title}")
    print(ex.solution)
    return 0
