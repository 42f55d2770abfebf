"""Shared pieces of Trainyard's Python trainer packs: the trainer protocol, checkpoints, seeds."""
