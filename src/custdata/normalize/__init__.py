"""One value -> canonical string, or InvalidValue. Pure: no I/O, no clock, no environment.

One module per kind of value: text (and names), email, phone, dates, country, id_number,
consent; tables holds their lookup data; keys makes every match key. Import any public
name from here (`from custdata.normalize import email_key`) or from its module.

Phones and emails are judged by `phonenumbers` and `email-validator`; their verdicts are
final. To keep a million values cheap, both go through caches keyed on a canonical form
that gives the same verdict and fast paths for the commonest shapes;
`tests/test_normalize_fastpath.py` checks them against the bare libraries.
"""

from __future__ import annotations

from custdata.normalize.consent import CONSENT_VALUES, normalize_consent
from custdata.normalize.country import normalize_country, row_region
from custdata.normalize.dates import MAX_YEAR, MIN_YEAR, normalize_date
from custdata.normalize.email import normalize_email, suggest_domain, suggest_email
from custdata.normalize.id_number import normalize_id_number, upgrade_id_number
from custdata.normalize.keys import (
    KEY_KINDS, contact_keys, email_key, id_number_key, key_function, key_functions, key_of,
    phone_key,
)
from custdata.normalize.phone import (
    PhoneResult, normalize_phone, parse_phone, phone_canonical, phone_input, phone_type,
    phone_verdict,
)
from custdata.normalize.text import normalize_name, normalize_text

__all__ = [
    "CONSENT_VALUES", "KEY_KINDS", "MAX_YEAR", "MIN_YEAR", "PhoneResult", "contact_keys",
    "email_key", "id_number_key", "key_function", "key_functions", "key_of", "normalize_consent",
    "normalize_country", "normalize_date", "normalize_email", "normalize_id_number",
    "normalize_name", "normalize_phone", "normalize_text", "parse_phone", "phone_canonical",
    "phone_input", "phone_key", "phone_type", "phone_verdict", "row_region", "suggest_domain",
    "suggest_email", "upgrade_id_number",
]
