"""How the command line reads: metavars a person can read in --help, and a hint when a
global option is given after the command.

Global options go before the command, as with git (`custdata --db crm.db report summary`,
SPEC section 1). Given after it, they are not silently taken: the error says where they
go and shows the command line with them moved there.
"""

from __future__ import annotations

import shlex
from typing import Any

from custdata.errors import clip

# Global options: name -> whether it takes a value
GLOBAL_OPTIONS = {"--db": True, "--config": True, "--key-file": True, "--wait": True,
                  "--quiet": False, "-q": False, "--debug": False, "--version": False}

# What an option's value is, when its name does not say it plainly
_METAVARS = {
    "--db": "PATH", "--config": "PATH", "--key-file": "PATH", "--new-key-file": "PATH",
    "--rejects": "FILE", "--output": "FILE", "-o": "FILE", "--labels": "FILE",
    "--wait": "SECONDS", "--threshold": "PROBABILITY", "--map": "SRC=FIELD",
    "--where": "FIELD=VALUE", "--as-of": "DATE", "--changed-since": "DATE|AGE",
    "--currency": "CODE", "--region": "CC", "--top": "N", "--min-risk": "RISK",
    "--fail-under": "SCORE", "--header-row": "N", "--sheet": "NAME", "--columns": "A,B",
    "--decimal": "auto|,|.", "--delimiter": "CHAR", "--encoding": "CODEC",
    "--source": "TEXT", "--show": "CHECK", "--segment": "SEGMENT", "--workers": "N",
}


def make_readable(command: Any) -> None:
    """Give every option and argument of `command` and its subcommands a metavar a person
    reads (PATH, SECONDS, [table|csv]) instead of the type names typer shows (<list[str]>,
    <float range>)."""
    for param in getattr(command, "params", []):
        if param.param_type_name == "option":
            if not getattr(param, "is_flag", False) and not getattr(param, "count", False):
                param.metavar = param.metavar or _option_metavar(param)
        elif param.param_type_name == "argument":
            param.metavar = param.metavar or param.name.upper()
            param.display_type_rich = _no_type  # the metavar says it: no <str> after it
    for sub in getattr(command, "commands", {}).values():
        make_readable(sub)


def _no_type(ctx: Any = None) -> None:
    return None


def _option_metavar(param: Any) -> str:
    for name in param.opts:
        if name in _METAVARS:
            return _METAVARS[name]
    kind = _type_label(param)
    if "|" in kind and not kind.startswith("list["):
        return f"[{kind}]"
    if "path" in kind or "file" in kind:
        return "PATH"
    if kind.startswith("int"):
        return "N"
    if kind.startswith("float"):
        return "NUMBER"
    longest = max(param.opts, key=len)
    return longest.lstrip("-").upper().replace("-", "_")


def _type_label(param: Any) -> str:
    """"float range", "path", "table|csv": the type as typer would show it, or click's name."""
    kind = getattr(param, "type", None)
    if kind is not None:  # click's own Option (older typer)
        choices = getattr(kind, "choices", None)
        return "|".join(map(str, choices)) if choices else str(getattr(kind, "name", ""))
    try:
        return str(param.display_type(None)).strip("<>")
    except Exception:  # noqa: BLE001 - a label is a nicety; the option's name will do
        return ""


def misplaced_global(option: str, argv: list[str]) -> str | None:
    """The message for a global option given after the command (None for another option):
    where it goes, and the command line with it moved there."""
    name = option.split("=", 1)[0]
    if name not in GLOBAL_OPTIONS:
        return None
    moved = _moved_before(name, argv)
    shown = "custdata " + " ".join(shlex.quote(clip(w, 60)) for w in moved) if moved else ""
    where = f": `{shown}`" if shown else ""
    return (f"{name} is a global option: it goes before the command, as with git{where}.")


def _moved_before(name: str, argv: list[str]) -> list[str] | None:
    """argv with the last `name` (the one after the command) and its value moved to the
    front; None when it is not after a command."""
    takes_value = GLOBAL_OPTIONS[name]
    found = [i for i, w in enumerate(argv) if w == name or w.startswith(name + "=")]
    if not found or not any(not w.startswith("-") for w in argv[:found[-1]]):
        return None
    i = found[-1]
    end = i + 1 + (1 if takes_value and argv[i] == name and i + 1 < len(argv) else 0)
    rest = argv[:i] + argv[end:]
    for j in reversed(found[:-1]):  # the same option given before too: the later one wins
        width = 1 + (1 if takes_value and argv[j] == name else 0)
        del rest[j:j + width]
    return argv[i:end] + rest
