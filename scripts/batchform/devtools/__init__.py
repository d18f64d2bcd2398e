"""The development tooling: the test runner, the static checks, the module docs generator.

Nothing in the product or the local stack imports it.
"""
