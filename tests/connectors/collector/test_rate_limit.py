import pytest

from connectors.collector.rate_limit import Rate, RateLimiter, client_key, rate_of, retry_after
from leadflow.parsers import rate


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    limiter = RateLimiter(Rate(3, 60))  # 3 at once, one more every 20 s
    assert [limiter.take("ip", 0) for _ in range(3)] == [0, 0, 0]
    assert limiter.take("ip", 0) == pytest.approx(20)
    assert limiter.take("ip", 10) == pytest.approx(10)  # a refused request takes nothing
    assert limiter.take("ip", 20) == 0 and limiter.take("ip", 20) == pytest.approx(20)
    assert limiter.take("other", 20) == 0  # keys are independent
    assert limiter.take("ip", 1000) == 0  # refilled to the burst, never beyond
    assert [limiter.take("ip", 1000) for _ in range(3)][-1] == pytest.approx(20)


def test_idle_buckets_are_dropped_and_memory_is_bounded():
    limiter = RateLimiter(Rate(2, 10), max_keys=100)
    for n in range(50):
        limiter.take(f"k{n}", n * 0.01)
    assert len(limiter) == 50
    for n in range(20):  # once they are full again they are forgotten, a few per call
        limiter.take("late", 100 + n)
    assert len(limiter) == 1
    for n in range(1000):  # a flood of distinct keys never grows the table past max_keys
        limiter.take(f"flood{n}", 200)
    assert len(limiter) <= 100


def test_off_never_limits():
    limiter = RateLimiter(rate_of(rate("off")))
    assert all(limiter.take("k", 0) == 0 for _ in range(10_000)) and len(limiter) == 0


@pytest.mark.parametrize("raw, canonical, parsed", [
    ("20/min", "20/60s", Rate(20, 60)), ("5/h", "5/3600s", Rate(5, 3600)), ("1000/s", "1000/1s", Rate(1000, 1)),
    ("10/30s", "10/30s", Rate(10, 30)), ("30/10min", "30/600s", Rate(30, 600)), ("2/1d", "2/86400s", Rate(2, 86400)),
])
def test_settings_read_n_per_period(raw, canonical, parsed):
    assert rate(raw) == canonical and rate_of(canonical) == parsed


@pytest.mark.parametrize("raw", ["20", "x/min", "0/min", "5/0s", "5/fortnight", "-1/s"])
def test_bad_rates_say_what_is_expected(raw):
    with pytest.raises(ValueError, match="N/period|positive"):
        rate(raw)


def test_ipv6_clients_are_limited_per_64_and_retry_after_is_whole_seconds():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7" and client_key(None) == "-"
    assert (retry_after(0.2), retry_after(19.01), retry_after(20)) == ("1", "20", "20")
