"""A form's overall-satisfaction item is rendered like a criterion, in its own section."""

from __future__ import annotations

from pathlib import Path

from forms import load_form_file

OVERALL = Path(__file__).parents[1] / "forms" / "data" / "overall.v1.toml"


def test_the_overall_item_is_a_rating_question_after_the_criteria(app):
    from survey.citizen.pages import new_state, render_form, sections
    from survey.citizen.places import Place

    form = load_form_file(OVERALL)
    with app.test_request_context("/?lang=vi"):
        parts = sections(form, "vi")
        titles = [s.title for s in parts]
        html, status, _ = render_form(Place("counter_qr", "STP", "Sở Tư pháp"), form, new_state())
    assert titles[3] == "Mức độ hài lòng chung" and len(titles) == 6  # 3 factors, overall, x, p
    overall = parts[3]
    assert overall.kind == "r" and overall.questions == [(6, form.overall_item)]
    assert status == 200
    block = html[html.index('id="q-overall"') : html.index('id="q-x1"')]
    criterion = html[html.index('id="q-c_1"') : html.index('id="q-overall"')]
    for code in ("0", "1", "2", "3", "4", "5"):  # the scale and "not applicable", as a criterion
        assert f'name="overall" value="{code}"' in block
        assert f'name="c_1" value="{code}"' in criterion
    assert "Nhìn chung, Ông/Bà hài lòng thế nào?" in block
