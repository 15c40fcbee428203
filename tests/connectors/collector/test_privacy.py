import pytest

from connectors.collector.privacy import treat_ip


@pytest.mark.parametrize("ip, mode, expected", [
    ("203.0.113.77", "truncate", "203.0.113.0"),
    ("2001:db8:abcd:12:1:2:3:4", "truncate", "2001:db8:abcd::"),
    ("203.0.113.77", "drop", None),
    ("203.0.113.77", "keep", "203.0.113.77"),
    ("not-an-ip", "keep", None),
    (None, "truncate", None),
])
def test_ip_treatments(ip, mode, expected):
    assert treat_ip(ip, mode, "k") == expected


def test_hashing_is_keyed_and_stable():
    assert treat_ip("203.0.113.77", "hash", "k1") == treat_ip("203.0.113.77", "hash", "k1")
    assert treat_ip("203.0.113.77", "hash", "k1") != treat_ip("203.0.113.77", "hash", "k2")
    assert "203" not in treat_ip("203.0.113.77", "hash", "k1")
