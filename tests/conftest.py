"""Test-wide configuration shared by every test package."""
