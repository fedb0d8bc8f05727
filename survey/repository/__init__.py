"""Every database query of the survey server lives in this package; views and the CLI call it as
``from survey import repository; repository.save_response(...)``.

Modules, by topic:

- :mod:`~survey.repository.responses`: the write path (:func:`save_response`, one transaction,
  idempotent by UUID, single-use dossier tokens) and :func:`token_used`;
- :mod:`~survey.repository.reading`: reading responses back (:func:`get_response`,
  :func:`list_responses`);
- :mod:`~survey.repository.questionnaires`: cached form loading, answer validation, the
  ``form_versions`` row;
- :mod:`~survey.repository.units`: unit codes to ids on the write path, cached per application;
- :mod:`~survey.repository.catalogue`: unit lookups for pages, the API and the CLI;
- :mod:`~survey.repository.accounts`: officials' accounts and API keys;
- :mod:`~survey.repository.errors`: why a submission is refused (stable codes).
"""

from survey.repository.accounts import (
    AccountError,
    ApiKeyAccess,
    api_key_access,
    create_api_key,
    create_user,
    disable_user,
    get_user,
    list_api_keys,
    list_users,
    revoke_api_key,
    set_password,
    verify_api_key,
)
from survey.repository.catalogue import (
    get_agency,
    get_counter,
    get_field,
    get_procedure,
    list_agencies,
    list_counters,
    list_fields,
    list_procedures,
    unit_names,
)
from survey.repository.errors import (
    ConflictingResubmission,
    InvalidAnswers,
    SubmissionError,
    TokenAlreadyUsed,
    UnknownAgency,
    UnknownCounter,
    UnknownField,
    UnknownForm,
    UnknownProcedure,
    WrongFormVersion,
)
from survey.repository.questionnaires import (
    FormLayout,
    decode_answers,
    load_form,
    record_form_version,
)
from survey.repository.reading import StoredResponse, get_response, list_responses
from survey.repository.responses import SaveResult, save_response, token_used, write_engine
from survey.repository.units import UNIT_CACHE_SECONDS, clear_caches

__all__ = [
    "UNIT_CACHE_SECONDS",
    "AccountError",
    "ApiKeyAccess",
    "ConflictingResubmission",
    "FormLayout",
    "InvalidAnswers",
    "SaveResult",
    "StoredResponse",
    "SubmissionError",
    "TokenAlreadyUsed",
    "UnknownAgency",
    "UnknownCounter",
    "UnknownField",
    "UnknownForm",
    "UnknownProcedure",
    "WrongFormVersion",
    "decode_answers",
    "clear_caches",
    "api_key_access",
    "create_api_key",
    "create_user",
    "disable_user",
    "get_user",
    "list_api_keys",
    "list_users",
    "revoke_api_key",
    "set_password",
    "get_agency",
    "get_counter",
    "get_field",
    "get_procedure",
    "get_response",
    "list_agencies",
    "list_counters",
    "list_fields",
    "list_procedures",
    "unit_names",
    "list_responses",
    "load_form",
    "record_form_version",
    "save_response",
    "token_used",
    "verify_api_key",
    "write_engine",
]
