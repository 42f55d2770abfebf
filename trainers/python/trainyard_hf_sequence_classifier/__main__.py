"""`python -m trainyard_hf_sequence_classifier --spec job.json`"""
from trainyard_common import protocol as tp

from .train import main

tp.main_guard(main)
