"""Command-line tools for form definitions: ``sipas forms validate | show | list``.

The `forms` click group is mounted by the project CLI; it only needs `click` (shipped with Flask),
not Flask itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from forms.errors import FormDefinitionError, FormNotFound
from forms.model import Choice, Form
from forms.schema import list_forms, load_form, load_form_file
from forms.validate import validate_form_file

__all__ = ["forms", "form_outline", "form_structure"]


@click.group("forms")
def forms() -> None:
    """Questionnaire definitions (Định nghĩa phiếu khảo sát)."""


@forms.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate_command(files: tuple[Path, ...]) -> None:
    """Check form definition FILES; print every problem as FILE:location: message."""
    failed = False
    for path in files:
        problems = validate_form_file(path)
        if problems:
            failed = True
            for problem in problems:
                where = f"{path}:{problem.location}" if problem.location else str(path)
                click.echo(f"{where}: {problem.message}")
            continue
        form = load_form_file(path)
        click.echo(f"OK: {form.id} v{form.version} ({path})")
    if failed:
        raise SystemExit(1)


def _resolve(form: str, version: int | None) -> Form:
    """A shipped form by id, or a definition file when FORM is a path to one."""
    path = Path(form)
    try:
        if form.endswith(".toml") or path.is_file():
            if version is not None:
                raise click.UsageError("--version applies to a form id, not to a file")
            return load_form_file(path)
        return load_form(form, version)
    except (FormNotFound, FormDefinitionError) as exc:
        raise click.ClickException(str(exc)) from exc


def form_structure(form: Form) -> dict[str, Any]:
    """The structure printed by ``forms show --format json`` (keys, not item texts)."""
    return {
        "id": form.id,
        "version": form.version,
        "content_hash": form.content_hash,
        "title": form.title.to_dict(),
        "scale": form.scale.to_dict(),
        "aspects": [
            {"key": a.key, "label": a.label.to_dict(), "factors": list(a.factor_keys)}
            for a in form.aspects
        ],
        "factors": [
            {
                "key": f.key,
                "label": f.label.to_dict(),
                "aspect": f.aspect,
                "items": list(f.item_keys),
            }
            for f in form.factors
        ],
        "expectation_scale": (
            form.expectation_scale.to_dict() if form.expectation_scale is not None else None
        ),
        "overall_item": form.overall_item.key if form.overall_item is not None else None,
        "expectation_items": [i.key for i in form.expectation_items],
        "profile_items": [
            {"key": i.key, "choices": [c.to_dict() for c in i.choices]} for i in form.profile_items
        ],
        "comment": form.comment.key if form.comment is not None else None,
        "item_keys": list(form.item_keys),
        "aggregation": form.aggregation.to_dict(),
    }


def _labels(choices: tuple[Choice, ...]) -> str:
    return "; ".join(f"{c.code} {c.label.vi} / {c.label.en}" for c in choices)


def form_outline(form: Form) -> str:
    """A readable bilingual outline of the form (``forms show --format text``)."""
    scale = form.scale
    lines = [
        f"{form.id} v{form.version}   sha256 {form.content_hash}",
        f"{form.title.vi}",
        f"{form.title.en}",
        "",
        f"Thang đo / Scale: {_labels(scale.choices)}",
        f"  hài lòng / satisfied: >= {scale.satisfied_threshold};"
        f" không hài lòng / dissatisfied: <= {scale.dissatisfied_max}",
    ]
    if form.aspects:
        lines += ["", "Khía cạnh / Aspects:"]
        lines += [
            f"  {a.key}: {a.label.vi} / {a.label.en}  [{', '.join(a.factor_keys)}]"
            for a in form.aspects
        ]
    lines += ["", "Yếu tố và tiêu chí / Factors and criteria:"]
    for f in form.factors:
        aspect = f"  (khía cạnh / aspect {f.aspect})" if f.aspect else ""
        lines.append(f"  {f.key}: {f.label.vi} / {f.label.en}{aspect}")
        for key in f.item_keys:
            item = form.item(key)
            lines += [f"    {key}: {item.text.vi}", f"    {' ' * len(key)}  {item.text.en}"]
    if form.overall_item is not None:
        item = form.overall_item
        lines += [
            "",
            "Hài lòng chung (không là tiêu chí) / Overall satisfaction (not a criterion):",
            f"  {item.key}: {item.text.vi} / {item.text.en}",
        ]
    if form.expectation_scale is not None and form.expectation_items:
        lines += ["", "Mong đợi / Expectations: " + _labels(form.expectation_scale.choices)]
        lines += [f"  {i.key}: {i.text.vi} / {i.text.en}" for i in form.expectation_items]
    if form.profile_items:
        lines += ["", "Thông tin người trả lời / Respondent profile:"]
        for i in form.profile_items:
            lines += [f"  {i.key}: {i.text.vi} / {i.text.en}", f"    {_labels(i.choices)}"]
    if form.comment is not None:
        lines += ["", f"Ý kiến / Comment: {form.comment.key} (<= {form.comment.max_length})"]
    agg = form.aggregation
    lines += ["", f"Tổng hợp / Aggregation: top level = {agg.top_level}"]
    for name, weights in (
        ("item", agg.item_weights),
        ("factor", agg.factor_weights),
        ("aspect", agg.aspect_weights),
    ):
        changed = {k: w for k, w in weights.items() if w != 1.0}
        if changed:
            lines.append(
                f"  {name} weights: " + ", ".join(f"{k}={w:g}" for k, w in changed.items())
            )
    if all(
        w == 1.0
        for m in (agg.item_weights, agg.factor_weights, agg.aspect_weights)
        for w in m.values()
    ):
        lines.append("  all weights 1 (plain means)")
    return "\n".join(lines)


@forms.command("show")
@click.argument("form")
@click.option(
    "--version", "version", type=click.IntRange(min=1), help="Form version (default: newest)."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json is the machine format; text a readable outline.",
)
def show_command(form: str, version: int | None, output_format: str) -> None:
    """Print the structure of FORM (a shipped form id, or a .toml file)."""
    loaded = _resolve(form, version)
    if output_format == "json":
        click.echo(json.dumps(form_structure(loaded), ensure_ascii=False, indent=2))
    else:
        click.echo(form_outline(loaded))


@forms.command("list")
def list_command() -> None:
    """List the shipped form versions: id, version and title."""
    try:
        summaries = list_forms()
    except FormDefinitionError as exc:
        raise click.ClickException(str(exc)) from exc
    for s in summaries:
        click.echo(f"{s.id}\tv{s.version}\t{s.title.vi}\t{s.title.en}")
