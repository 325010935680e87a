"""GMF conformance tests: one small module per state, transition and condition type.

Reference: /work/shared/reference/module-format.md (§5–§11) and engine-behaviour.md (§3–§5).
"""
