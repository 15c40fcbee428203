from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from leadflow.partitioner import key_partitioner, murmur2


@given(st.binary(max_size=200))
def test_murmur2_matches_the_java_port_in_aiokafka(data):
    assert murmur2(data) == aiokafka_murmur2(data)


@given(st.binary(min_size=1, max_size=64), st.integers(1, 64))
def test_same_partition_as_the_default_partitioner(key, count):
    partitions = list(range(count))
    assert key_partitioner(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)

