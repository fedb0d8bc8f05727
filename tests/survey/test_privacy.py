"""Phone and ID numbers in comments are masked before storage (issue #13, defect 10)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from survey import repository
from survey.extensions import db
from survey.models import Response
from survey.privacy import mask_comment, mask_personal_numbers
from survey.submissions import content_hash
from tests.survey.submitted import NOW, counter_submission

# Vietnamese phone numbers (mobile, with the country code, landlines) and ID card numbers
# (9-digit CMND, 12-digit CCCD) as citizens write them, with what must be left of them.
PERSONAL = [
    ("0912345678", "••••••••78"),
    ("091 234 5678", "••• ••• ••78"),
    ("0912 345 678", "•••• ••• •78"),
    ("0912.345.678", "••••.•••.•78"),
    ("0912-345-678", "••••-•••-•78"),
    ("+84 912 345 678", "+•• ••• ••• •78"),
    ("+84912345678", "+•••••••••78"),
    ("84912345678", "•••••••••78"),
    ("(+84) 912 345 678", "(+••) ••• ••• •78"),
    ("0386 123 456", "•••• ••• •56"),
    ("028 3829 1234", "••• •••• ••34"),
    ("024.3825.1234", "•••.••••.••34"),
    ("(028) 3829 1234", "(•••) •••• ••34"),
    ("02838291234", "•••••••••34"),
    ("123456789", "•••••••89"),  # CMND
    ("023 456 789", "••• ••• •89"),
    ("023.456.789", "•••.•••.•89"),
    ("079123456789", "••••••••••89"),  # CCCD
    ("079 123 456 789", "••• ••• ••• •89"),
    ("079.123.456.789", "•••.•••.•••.•89"),
    ("0791 2345 6789", "•••• •••• ••89"),
]

# In sentences: the number is masked, the words and punctuation around it are kept.
IN_TEXT = [
    ("Gọi tôi: 0912345678.", "Gọi tôi: ••••••••78."),
    ("SĐT:0912.345.678, cảm ơn", "SĐT:••••.•••.•78, cảm ơn"),
    ("CCCD 079123456789 bị ghi sai", "CCCD ••••••••••89 bị ghi sai"),
    ("số 0912345678 hoặc 028 3829 1234", "số ••••••••78 hoặc ••• •••• ••34"),
    ("(0912 345 678)", "(•••• ••• •78)"),
]

# Numbers that are neither phones nor IDs: left as they are.
NEAR_MISSES = [
    "Hồ sơ số 000.00.12.H56-240101-0001 trả chậm",
    "mã hồ sơ H56.2-240101-000123",
    "ngày 12/01/2024",
    "hẹn 12.01.2024 lúc 10:30",
    "2024-01-12 10:30",
    "lệ phí 1.500.000 đồng",
    "phí 150.000.000 đồng",
    "150.000.000đ",
    "tiền 1.500.000.000",
    "150,000,000 VND",
    "năm 2024",
    "chờ 45 phút, quầy số 3",
    "từ 2019 đến 2024",
    "12345678",
    "0912345678901234",
    "BHXH: 79123456789012345",
    "mã 1234567890ABC",
    "a0912345678",
]


@pytest.mark.parametrize(("text", "masked"), PERSONAL + IN_TEXT)
def test_phone_and_id_numbers_are_masked(text, masked):
    assert mask_personal_numbers(text) == masked
    assert mask_comment(text) == (masked, True)


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_other_numbers_are_left_alone(text):
    assert mask_personal_numbers(text) == text
    assert mask_comment(text) == (text, False)


def test_masking_twice_changes_nothing():
    once = mask_personal_numbers("gọi 0912 345 678 hoặc 079123456789")
    assert mask_personal_numbers(once) == once
    assert mask_comment(None) == (None, False) and mask_comment("") == ("", False)


@pytest.fixture
def units(make_agency, make_counter):
    make_counter("Q1", agency=make_agency("STP"))


def _stored(uuid):
    return db.session.scalar(select(Response).where(Response.uuid == uuid))


def test_comments_are_masked_before_storage(app, units):
    comment = "Cán bộ nhiệt tình. Gọi tôi 0912 345 678, CCCD 079123456789."
    with app.app_context():
        masked = counter_submission({"e1_1": 5}, comment=comment)
        plain = counter_submission({"e1_1": 5}, comment="Chờ 45 phút, phí 1.500.000 đồng")
        for submission in (masked, plain):
            assert repository.save_response(submission, now=NOW).created
        row = _stored(masked.uuid)
        assert row.comment == "Cán bộ nhiệt tình. Gọi tôi •••• ••• •78, CCCD ••••••••••89."
        assert row.comment_masked is True
        # Not even the content hash holds the numbers: it is the hash of the masked comment.
        assert row.content_hash != content_hash(
            masked, {"e1_1": 5}, agency_code="STP", field_code=None
        )
        assert row.flags == ""  # a masked comment is no quality flag (no exclusion filter)
        other = _stored(plain.uuid)
        assert other.comment == "Chờ 45 phút, phí 1.500.000 đồng"
        assert other.comment_masked is False
        # The same submission again is an identical resubmit, not a conflict.
        assert repository.save_response(masked, now=NOW).created is False


def test_older_rows_are_masked_in_exports(app, units, runner):
    with app.app_context():
        submission = counter_submission({"e1_1": 5}, comment="tạm")
        repository.save_response(submission, now=NOW)
        row = _stored(submission.uuid)
        row.comment = "gọi 0912 345 678"  # stored verbatim before revision 0005
        db.session.commit()
    exported = runner.invoke(["export", "responses"])
    assert exported.exit_code == 0, exported.output
    assert "0912 345 678" not in exported.stdout and "gọi •••• ••• •78" in exported.stdout
