"""Shared pytest configuration for tests/."""


def pytest_configure(config):
    # tests/test_c_build.py: the install + CMake/pkg-config builds of examples/c
    config.addinivalue_line("markers", "slow: builds or installs something; deselect with -m 'not slow'")
