"""What every LoRA pack does the same way: check the target modules, and checkpoint or resume the
adapter with its optimizer, scheduler and loop position. One place, so a fix reaches every pack."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch
from peft import get_peft_model_state_dict, set_peft_model_state_dict

from . import protocol as tp
from . import torch_utils as tu


def _is_linear(m: torch.nn.Module) -> bool:
    if isinstance(m, torch.nn.Linear):
        return True
    try:  # GPT-2-style models use Conv1D for their projections
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # pragma: no cover - transformers always ships it
        return False
    return isinstance(m, Conv1D)


def check_targets(model: torch.nn.Module, targets: List[str]) -> None:
    """PEFT matches a target by the end of a module's dotted name; say which names exist when none match."""
    names = [n for n, _ in model.named_modules()]
    matches = {t: any(n == t or n.endswith("." + t) for n in names) for t in targets}
    if any(matches.values()):
        missing = [t for t, ok in matches.items() if not ok]
        if missing:
            tp.log(f"target modules not in this model (ignored): {', '.join(missing)}", "warn")
        return
    linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if _is_linear(m)})
    raise tp.TrainerError("TARGET_MODULES_NOT_FOUND",
                          f"none of the target modules {targets} exists in this model; its linear modules are: {', '.join(linear)}")


def save_adapter_checkpoint(spec: Dict[str, Any], step: int, model, optimizer, scheduler, total_steps: int,
                            position: Dict[str, Any]) -> None:
    tu.save_checkpoint(spec, step, {
        "adapter": get_peft_model_state_dict(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "total_steps": total_steps,
        "position": dict(position),
    })


def resume_adapter_checkpoint(spec: Dict[str, Any], model, optimizer, scheduler, total_steps: int) -> Optional[Dict[str, Any]]:
    """Loads the adapter, optimizer and scheduler from the job's resume checkpoint; returns the saved
    loop position, or None when there is nothing to resume from."""
    state: Optional[Dict[str, Any]] = tu.load_resume(spec)
    if state is None:
        return None
    if state.get("total_steps") != total_steps:
        tp.log(f"the checkpoint was made for {state.get('total_steps')} steps, this run has {total_steps}: "
               "the data or hyperparameters changed", "warn")
    set_peft_model_state_dict(model, state["adapter"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return state["position"]
