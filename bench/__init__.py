"""Benchmarks for klaviyo-sync: a customer generator and a runner against the sandbox.

``python -m bench`` (or ``make bench``) syncs generated customers with each strategy against
the sandbox over loopback, with Klaviyo's published rate limits enforced, and prints one table
per scenario. See ``bench/run.py`` for what is measured and how.
"""
