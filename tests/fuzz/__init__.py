"""Property-based fuzz tests: bad input never crashes, never hangs, is never reported as success.

See conftest.py for how to run a deep session (FUZZ_EXAMPLES, FUZZ_COLLECT, FUZZ_TIMEOUT).
"""
