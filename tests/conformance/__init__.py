"""GMF conformance tests: one small module per state, transition and condition type.

Reference: docs/module-format.md (§5–§11) and docs/engine-behaviour.md (§3–§5).
"""
