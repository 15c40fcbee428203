from streams.offsets import OffsetGuard


def test_contiguous_and_repeated_offsets_pass():
    guard = OffsetGuard()
    assert all(guard.admit("p0", n) for n in [5, 6, 7, 3, 4, 8])  # a redelivery (3, 4) is for de-duplication
    assert guard.rewinds() == {}


def test_a_hole_asks_for_one_seek_back_and_holds_the_rest_of_the_partition():
    guard = OffsetGuard()
    assert guard.admit("p0", 10) and guard.admit("p1", 0)
    assert not guard.admit("p0", 14) and not guard.admit("p0", 15)  # 11-13 skipped
    assert guard.admit("p1", 1)  # other partitions carry on
    assert guard.rewinds() == {"p0": 11} and guard.rewinds() == {}
    assert all(guard.admit("p0", n) for n in [11, 12, 13, 14, 15])


def test_records_fetched_before_the_seek_are_held_until_the_hole_is_filled():
    guard = OffsetGuard(retries=3)
    assert guard.admit("p0", 1) and not guard.admit("p0", 5)
    assert guard.rewinds() == {"p0": 2}
    assert not guard.admit("p0", 6) and guard.rewinds() == {"p0": 2}  # a stale record after the seek: seek again
    assert all(guard.admit("p0", n) for n in [2, 3, 4, 5, 6])


def test_offsets_that_really_are_missing_pass_after_the_retries():
    guard = OffsetGuard(retries=2)
    assert guard.admit("p0", 1)
    for _ in range(2):  # 2 is a transaction marker, say: the broker never returns it
        assert not guard.admit("p0", 3) and guard.rewinds() == {"p0": 2}
    assert guard.admit("p0", 3) and guard.admit("p0", 4) and guard.rewinds() == {}


def test_reset_forgets_positions_after_a_rebalance():
    guard = OffsetGuard()
    assert guard.admit("p0", 1)
    guard.reset()
    assert guard.admit("p0", 50)
