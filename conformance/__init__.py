"""Servers configured as the official protocol test suites expect, and interop helpers."""
