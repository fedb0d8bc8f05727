"""Questionnaire definitions as data: TOML files plus a pure, typed loader and validator.

>>> from forms import load_form
>>> form = load_form("sipas-counter")
>>> form.id, form.version, len(form.rating_items), len(form.factors)
('sipas-counter', 1, 19, 5)
"""

from forms.errors import (
    AnswerProblem,
    FormDefinitionError,
    FormNotFound,
    InvalidAnswers,
    Problem,
)
from forms.schema import (
    DEFINITIONS_DIR,
    Aggregation,
    Aspect,
    Choice,
    ExpectationScale,
    Factor,
    Form,
    FormSummary,
    Item,
    ItemKind,
    RatingScale,
    Text,
    form_from_dict,
    list_forms,
    load_form,
    load_form_file,
)
from forms.validate import validate_form_data, validate_form_file

__all__ = [
    "DEFINITIONS_DIR",
    "Aggregation",
    "AnswerProblem",
    "Aspect",
    "Choice",
    "ExpectationScale",
    "Factor",
    "Form",
    "FormDefinitionError",
    "FormNotFound",
    "FormSummary",
    "InvalidAnswers",
    "Item",
    "ItemKind",
    "Problem",
    "RatingScale",
    "Text",
    "form_from_dict",
    "list_forms",
    "load_form",
    "load_form_file",
    "validate_form_data",
    "validate_form_file",
]
