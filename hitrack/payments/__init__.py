"""hitrack.payments"""
