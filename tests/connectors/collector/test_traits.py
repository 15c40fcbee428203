from connectors.collector.traits import GROUP, profile_from_traits


def test_reserved_traits_map_to_profile_attributes():
    profile = profile_from_traits({
        "email": "a@b.io", "firstName": "Ada", "last_name": "Lovelace", "title": "Head of Platform",
        "company": {"name": "Acme", "employee_count": 250, "plan": "enterprise", "region": "EU"},
        "address": {"country": "DE", "city": "Berlin", "postalCode": "10115"}, "phone": "+49 30 1",
        "createdAt": "2026-01-01T00:00:00Z", "newsletter": True, "seats": 12, "tags": ["a", "b"]})
    assert profile == {
        "first_name": "Ada", "last_name": "Lovelace", "job_title": "Head of Platform", "company": "Acme",
        "company_size": "250", "plan": "enterprise", "phone": "+49 30 1", "country": "DE", "city": "Berlin",
        "postal_code": "10115", "created_at": "2026-01-01T00:00:00Z", "company.region": "EU",
        "newsletter": "true", "seats": "12", "tags": '["a","b"]'}


def test_a_full_name_fills_first_and_last_name_when_they_are_absent():
    assert profile_from_traits({"name": "Grace Brewster Hopper"}) == {
        "name": "Grace Brewster Hopper", "first_name": "Grace", "last_name": "Brewster Hopper"}
    assert profile_from_traits({"name": "Ada L", "firstName": "A"}) == {"name": "Ada L", "first_name": "A"}


def test_company_as_a_string_and_consent():
    assert profile_from_traits({"company": "Initech", "consent": "yes"}) == {"company": "Initech", "consent": "true"}


def test_group_traits_describe_the_account():
    assert profile_from_traits({"name": "Acme", "employees": 10, "website": "https://acme.io", "x": 1}, GROUP) == {
        "company": "Acme", "company_size": "10", "company_website": "https://acme.io", "x": "1"}
