"""hitrack.db"""
