"""What every LoRA pack does the same way: check the target modules, and checkpoint or resume the
adapter with its optimizer, scheduler and loop position. One place, so a fix reaches every pack."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

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


def load_options(quantization: str, dev: torch.device, skip: Optional[List[str]] = None) -> Tuple[Dict[str, Any], str]:
    """from_pretrained options for a frozen base model, and the quantization really used: 4-bit NF4
    on CUDA when asked (QLoRA; `skip` keeps modules such as new heads in full precision), bf16 on a
    CUDA device that has it, else fp32. On CPU a 4-bit request trains plain LoRA, and says so."""
    if quantization == "4bit" and dev.type != "cuda":
        tp.log("quantization=4bit needs CUDA: training plain LoRA in fp32 on CPU", "warn")
    elif quantization == "4bit":
        try:
            import bitsandbytes  # noqa: F401  (only the CUDA path needs it)
            from transformers import BitsAndBytesConfig
        except ImportError as e:
            raise tp.TrainerError("QUANTIZATION_UNAVAILABLE", f"quantization=4bit needs bitsandbytes, which is not installed: {e}")
        return {"dtype": torch.bfloat16, "device_map": {"": torch.cuda.current_device()},
                "quantization_config": BitsAndBytesConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=torch.bfloat16, llm_int8_skip_modules=skip or None)}, "4bit-nf4"
    elif dev.type == "cuda" and torch.cuda.is_bf16_supported():
        # Frozen base weights in bf16; PEFT keeps the adapter itself in fp32.
        return {"dtype": torch.bfloat16}, "none"
    return {"dtype": torch.float32}, "none"
