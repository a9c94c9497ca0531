"""A test whose stderr shows RE2's `invalid rewrite pattern` fails.

RE2 reports a regex rewrite it refuses only as a log line and then drops the
whole match, so `tf.strings.regex_replace` returns wrong text without an
error (quoted words vanished from every translation that way). pytest
captures each test's stderr at the file-descriptor level, where the C++ log
line lands; this hook turns the line into a failure of the test that caused
it. `tests/conftest.py` installs it for the whole suite.
"""

import pytest

RE2_COMPLAINT = "invalid rewrite pattern"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # A teardown report repeats what the test wrote before it: judge the
    # setup and the call only.
    if report.when == "teardown" or not report.passed:
        return
    if RE2_COMPLAINT in report.capstderr:
        report.outcome = "failed"
        lines = [
            line for line in report.capstderr.splitlines() if RE2_COMPLAINT in line
        ]
        report.longrepr = (
            f"RE2 refused a regex rewrite during {report.when} of {item.nodeid}: "
            "the replaced text is wrong. stderr said:\n" + "\n".join(lines[:5])
        )
