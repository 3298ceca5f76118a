"""hitrack.storage"""
