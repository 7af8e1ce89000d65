"""NHS number and date-of-birth parsing (pure functions)."""

from datetime import date

import pytest

from openhero.patients.nhs import normalise_nhs_number, normalise_postcode, parse_dob


@pytest.mark.parametrize("raw", ["9000000009", "900 000 0009", " 900-000-0009 ", 9000000009])
def test_nhs_number_forms_normalise_to_ten_digits(raw):
    assert normalise_nhs_number(raw) == "9000000009"


@pytest.mark.parametrize("raw", ["9000000001", "900000000", "90000000090", "90000000O9", "", None])
def test_bad_nhs_numbers_are_refused(raw):
    with pytest.raises(ValueError):
        normalise_nhs_number(raw)


@pytest.mark.parametrize(
    "raw", ["2010-10-22", "2010-10-22T00:00:00Z", "2010-10-22T00:00:00.000Z", "2010-10-22T23:30:00+01:00"]
)
def test_dob_accepts_dates_and_datetimes_keeping_the_calendar_date(raw):
    assert parse_dob(raw) == date(2010, 10, 22)


@pytest.mark.parametrize("raw", ["22/10/2010", "2010-13-01", "yesterday", ""])
def test_bad_dob_is_refused(raw):
    with pytest.raises(ValueError):
        parse_dob(raw)


def test_postcode_normalises_spacing_and_case():
    assert normalise_postcode("ls16ae") == "LS1 6AE"
    assert normalise_postcode(" YO30  7BT ") == "YO30 7BT"
