"""`python -m trainyard_lora_causal_lm --spec job.json`"""
from trainyard_common.protocol import main_guard

from .train import main

main_guard(main)
