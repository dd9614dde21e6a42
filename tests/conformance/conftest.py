"""Print the conformance score at the end of a run that included the ONNX node tests."""


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats

    def count(key):
        return sum(1 for r in stats.get(key, []) if "test_onnx_backend.py" in getattr(r, "nodeid", "")
                   and getattr(r, "when", "call") == "call")

    passed, xfailed, failed = count("passed"), count("xfailed"), count("failed")
    if passed or xfailed or failed:
        terminalreporter.write_line(f"onnx node tests: {passed} passed, {xfailed} expected failures"
                                    + (f", {failed} failed" if failed else ""))
