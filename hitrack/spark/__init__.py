"""Settlement on Apache Spark, with the micros of the in-process engines.

(Scheme and cost: see the module docstring, written below.)
"""
