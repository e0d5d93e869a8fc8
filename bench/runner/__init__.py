"""Turning a `bench run` request into trials and running them (Ray Tune)."""
