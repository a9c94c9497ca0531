"""The suite-wide guard that fails a test on RE2's `invalid rewrite pattern`."""

import pathlib

pytest_plugins = ["pytester"]

GUARD = pathlib.Path(__file__).with_name("re2_guard.py").read_text()


def test_a_refused_rewrite_fails_the_test_that_caused_it(pytester):
    pytester.makeconftest(GUARD)
    pytester.makepyfile(
        """
        import tensorflow as tf

        def test_bad_rewrite():
            # RE2 knows no \\" escape: it logs the complaint and drops the match.
            tf.strings.regex_replace(["say \\"hi\\""], r'"(.*)"', r'\\"\\1\\"')

        def test_good_rewrite():
            out = tf.strings.regex_replace(["a b"], r"(a) ", r"\\1")
            assert out.numpy()[0] == b"ab"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*RE2 refused a regex rewrite*test_bad_rewrite*"])
