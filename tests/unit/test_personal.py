"""Free text about a lead or a customer is personal data; events that stored it in clear
(class version 1) are upcast to the same shape."""

from uuid import uuid4

import pytest

from domain.customer import Customer
from domain.lead import Lead
from domain.personal import ERASED, Personal, from_clear

UPCAST = [
    (Lead.Contacted, ["notes"]),
    (Lead.Qualified, ["notes"]),
    (Lead.Disqualified, ["notes"]),
    (Customer.VisitLogged, ["notes", "next_step"]),
    (Customer.FeedbackGiven, ["comment"]),
]


@pytest.mark.parametrize("event_class, fields", UPCAST)
def test_a_version_1_event_with_text_in_clear_is_upcast_to_personal_data(event_class, fields):
    subject = uuid4()
    state = {"originator_id": subject, **dict.fromkeys(fields, "王小明说下周再谈")}
    assert event_class.class_version == 2
    event_class.upcast_v1_v2(state)
    for field in fields:
        assert state[field] == Personal(str(subject), "王小明说下周再谈") and state[field].in_clear
    blank = {"originator_id": subject, **dict.fromkeys(fields)}
    event_class.upcast_v1_v2(blank)
    assert all(blank[field] is None for field in fields)


def test_an_encrypted_value_is_left_as_it_is_and_erased_reads_as_erased():
    sealed = Personal("s", "text")
    assert from_clear("s", sealed) is sealed and not sealed.in_clear
    assert str(Personal("s", None)) == ERASED
