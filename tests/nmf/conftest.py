import pytest
from nmf_testdata import make_problem


@pytest.fixture(scope="module")
def sim():
    from imaging_genetics.simulate import nmf

    return nmf


@pytest.fixture
def problem():
    return make_problem()
